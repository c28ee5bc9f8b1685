// Cosmos DB for NoSQL: the account, the database and every container of lib/shared/storage/containers.ts
// (`CONTAINERS`), with the same names and partition keys (test/infra.test.ts holds the two together).
// Keys are disabled: the Function App's identity gets the Cosmos DB Built-in Data Contributor role.

@description('Name of the Cosmos DB account.')
param name string

param location string = resourceGroup().location

param tags object = {}

@description('Name of the database (COSMOS_DATABASE).')
param databaseName string

@allowed([
  'serverless'
  'provisioned'
])
param throughputMode string = 'serverless'

@description('With provisioned throughput: the autoscale maximum RU/s shared by all containers.')
param autoscaleMaxThroughput int = 1000

@description('Principal (object) ID granted the Cosmos DB Built-in Data Contributor role on the account.')
param dataContributorPrincipalId string

var serverless = throughputMode == 'serverless'

// Cosmos DB Built-in Data Contributor (data plane: read and write items, query, no account management).
var builtInDataContributorRoleId = '00000000-0000-0000-0000-000000000002'

// The containers the code uses: one entry per key of CONTAINERS in lib/shared/storage/containers.ts.
// Partition key definition version 2 (hashes the whole value), the SDK's default for new containers.
// `tokens`, `ownerInvitations`, `heldApiKeys` (keys trusted publishing made), `apiKeyExpiries`, `rateLimits`, `trustedPublisherLapses` and `usedOidcTokens` documents carry a `ttl`; defaultTtl -1 turns time to
// live on without a default expiry, so each document's own `ttl` applies.
var containers = [
  {
    name: 'accounts'
    paths: ['/id']
  }
  {
    name: 'claims'
    paths: ['/id']
  }
  {
    name: 'tokens'
    paths: ['/id']
    defaultTtl: -1
  }
  {
    name: 'outbox'
    paths: ['/id']
  }
  {
    name: 'audit'
    paths: ['/accountId']
  }
  {
    name: 'apiKeys'
    paths: ['/id']
  }
  {
    name: 'heldApiKeys'
    paths: ['/holderId']
    defaultTtl: -1
  }
  {
    name: 'apiKeyExpiries'
    paths: ['/day']
    defaultTtl: -1
  }
  {
    name: 'packages'
    paths: ['/id']
  }
  {
    name: 'packageVersions'
    paths: ['/packageId']
  }
  {
    name: 'ownerships'
    paths: ['/accountId']
  }
  {
    name: 'ownerInvitations'
    paths: ['/accountId']
    defaultTtl: -1
  }
  {
    name: 'prefixes'
    paths: ['/id']
  }
  {
    name: 'deletions'
    paths: ['/id']
  }
  {
    name: 'rateLimits'
    paths: ['/id']
    defaultTtl: -1
  }
  {
    name: 'trustedPublishers'
    paths: ['/creatorId']
  }
  {
    name: 'trustedPublisherLapses'
    paths: ['/day']
    defaultTtl: -1
  }
  {
    name: 'usedOidcTokens'
    paths: ['/id']
    defaultTtl: -1
  }
  {
    name: 'emailDomains'
    paths: ['/domain']
  }
]

var sqlContainers = [
  for container in containers: {
    name: container.name
    paths: container.paths
    kind: 'Hash'
    version: 2
    defaultTtl: container.?defaultTtl
  }
]

module account 'br/public:avm/res/document-db/database-account:0.20.1' = {
  name: 'cosmos-account'
  params: {
    name: name
    location: location
    tags: tags
    capabilitiesToAdd: serverless ? ['EnableServerless'] : []
    // Microsoft Entra ID only: no account keys for data, none for metadata writes either.
    disableLocalAuthentication: true
    disableKeyBasedMetadataWriteAccess: true
    // A single region; serverless accounts are single-region by design.
    zoneRedundant: false
    enableAutomaticFailover: false
    defaultConsistencyLevel: 'Session'
    backupPolicyType: 'Continuous'
    backupPolicyContinuousTier: 'Continuous7Days'
    minimumTlsVersion: 'Tls12'
    // Flex Consumption without a virtual network calls from shared outbound addresses, so the public
    // endpoint stays open; every request still needs a Microsoft Entra token with the data role below.
    networkRestrictions: {
      publicNetworkAccess: 'Enabled'
      networkAclBypass: 'None'
      ipRules: []
      virtualNetworkRules: []
    }
    sqlDatabases: [
      {
        name: databaseName
        // Provisioned: one autoscale throughput shared by every container; serverless: none (ignored).
        autoscaleSettingsMaxThroughput: serverless ? null : autoscaleMaxThroughput
        containers: sqlContainers
      }
    ]
    sqlRoleAssignments: [
      {
        roleDefinitionId: builtInDataContributorRoleId
        principalId: dataContributorPrincipalId
      }
    ]
  }
}

output name string = account.outputs.name
output endpoint string = account.outputs.endpoint
output databaseName string = databaseName
