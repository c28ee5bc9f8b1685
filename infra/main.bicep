// Placeholder: the infrastructure issue provisions the Function App, Cosmos DB, Communication Services,
// Key Vault and Application Insights here. The containers it must declare are listed in
// lib/storage/containers.ts.
targetScope = 'subscription'
