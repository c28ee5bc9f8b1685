// The account service in one resource group: a Function App on the Flex Consumption plan that reaches
// Cosmos DB, Communication Services (Email), Key Vault, Application Insights and its own deployment
// storage with one user-assigned managed identity. No key or connection string is read or written here.
//
// Deploy with `azd up` (azure.yaml, infra/main.parameters.json) or
// `az deployment sub create --template-file infra/main.bicep --parameters ...` (see infra/README.md).
targetScope = 'subscription'

// ---------------------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('Name of the environment (azd sets it from AZURE_ENV_NAME). Names the resource group and seeds the unique suffix of every other resource name.')
param environmentName string

@minLength(1)
@description('Region for every resource. It must offer the Flex Consumption plan (az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@minLength(1)
@description('Application (client) ID of the Microsoft Entra app registration the frontend signs in with: the audience every Microsoft ID token must carry (MICROSOFT_CLIENT_ID).')
param microsoftClientId string

@minLength(1)
@description('The frontend origin, for example https://gallery.example.com: scheme and host only, no path and no trailing slash. It is the only CORS origin of the Function App and the base of every link in emails (PUBLIC_BASE_URL).')
param publicBaseUrl string

@description('Comma-separated usernames allowed to reserve package id prefixes (SITE_ADMINS). Empty: nobody.')
param siteAdmins string = ''

@minValue(0)
@maxValue(8760)
@description('Hours between a request to delete an account and its processing (ACCOUNT_DELETION_GRACE_PERIOD_HOURS).')
param accountDeletionGracePeriodHours int = 24

@allowed([
  'tenant'
  'verified'
])
@description('How a work account shows multifactor sign-in (WORK_ACCOUNT_MFA): tenant (default) lets its tenant\'s own sign-in policy govern; verified asks the frontend for a v1.0 access token for microsoftMfaApiAudience whose amr shows mfa.')
param workAccountMfa string = 'tenant'

@description('With workAccountMfa verified: the App ID URI (or application ID) of the API registration the frontend gets that access token for, its aud (MICROSOFT_MFA_API_AUDIENCE). Empty otherwise.')
param microsoftMfaApiAudience string = ''

@minLength(1)
@description('The audience GitHub Actions OIDC tokens exchanged for trusted publishing keys must carry (TRUSTED_PUBLISHING_AUDIENCE): what workflows give the NuGet/login action as `audience`. By default the gallery\'s origin, as NuGet.org\'s is https://www.nuget.org. Changing it breaks every workflow that names the old one.')
param trustedPublishingAudience string = publicBaseUrl

@description('The aud values app-only Microsoft Entra access tokens exchanged for trusted publishing keys may carry (TRUSTED_PUBLISHING_ENTRA_AUDIENCE), comma-separated: the gallery API registration\'s App ID URI (v1.0 tokens) and application ID (v2.0 tokens). Empty (the default): the entra provider is off.')
param trustedPublishingEntraAudience string = ''
@minLength(1)
@description('The GitLab instance whose CI/CD ID tokens trusted publishing takes (GITLAB_OIDC_ISSUER): GitLab.com, or a self-managed instance\'s URL (https://gitlab.example.com). Its keys are found by OpenID discovery.')
param gitlabOidcIssuer string = 'https://gitlab.com'

@allowed([
  'serverless'
  'provisioned'
])
@description('Cosmos DB capacity mode. serverless (default) bills per request; provisioned shares autoscale throughput (cosmosAutoscaleMaxThroughput) among all containers. Chosen when the account is created.')
param cosmosThroughputMode string = 'serverless'

@minValue(1000)
@maxValue(1000000)
@description('With cosmosThroughputMode provisioned: the autoscale maximum RU/s of the database, shared by every container (a multiple of 1000; it scales between 10% and 100% of it). Ignored when serverless.')
param cosmosAutoscaleMaxThroughput int = 1000

@description('Custom email domain to send from, for example gallery.example.com. Empty (default): an Azure-managed domain (<guid>.azurecomm.net). A custom domain must be verified in DNS before it is used: see emailDomainVerified.')
param emailDomain string = ''

@description('Set to true once the custom emailDomain has been verified (its DNS records are output as EMAIL_DOMAIN_VERIFICATION_RECORDS). Until then mail is sent from the Azure-managed domain, which is always provisioned.')
param emailDomainVerified bool = false

@allowed([
  'Africa'
  'Asia Pacific'
  'Australia'
  'Brazil'
  'Canada'
  'Europe'
  'France'
  'Germany'
  'India'
  'Japan'
  'Korea'
  'Norway'
  'Switzerland'
  'UAE'
  'UK'
  'United States'
])
@description('Where Communication Services and the Email Communication Service keep their data at rest.')
param communicationDataLocation string = 'United States'

@secure()
@minLength(43)
@description('HS256 key that signs session tokens: base64 of at least 32 random bytes (`openssl rand -base64 48`); the app refuses anything else at start-up. Stored only in Key Vault; the Function App reads it through a Key Vault reference. With azd, the preprovision hook in azure.yaml makes one when SESSION_SIGNING_KEY is not set and keeps it in the environment.')
param sessionSigningKey string

// ---------------------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------------------

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-${resourceToken}'
// The Flex Consumption plan pulls the deployed package from this blob container, with the app's identity.
var deploymentContainerName = 'app-package-${resourceToken}'
var cosmosDatabaseName = 'accounts'
var sessionSigningKeySecretName = 'session-signing-key'

// ---------------------------------------------------------------------------------------------------------
// Resource group and identity
// ---------------------------------------------------------------------------------------------------------

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

// The one identity of the Function App: deployment storage, the Functions host's storage, Cosmos DB,
// Communication Services, Key Vault references and Application Insights ingestion all use it.
module apiIdentity 'br/public:avm/res/managed-identity/user-assigned-identity:0.6.0' = {
  name: 'api-identity'
  scope: rg
  params: {
    name: 'id-api-${resourceToken}'
    location: location
    tags: tags
  }
}

// ---------------------------------------------------------------------------------------------------------
// Monitoring: Log Analytics and Application Insights, ingestion with Microsoft Entra ID only
// ---------------------------------------------------------------------------------------------------------

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.16.1' = {
  name: 'log-analytics'
  scope: rg
  params: {
    name: 'log-${resourceToken}'
    location: location
    tags: tags
    skuName: 'PerGB2018'
    dataRetention: 90
  }
}

module appInsights 'br/public:avm/res/insights/component:0.8.0' = {
  name: 'app-insights'
  scope: rg
  params: {
    name: 'appi-${resourceToken}'
    location: location
    tags: tags
    applicationType: 'web'
    kind: 'web'
    workspaceResourceId: logAnalytics.outputs.resourceId
    retentionInDays: 90
    // Telemetry is accepted only with a Microsoft Entra token (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
    disableLocalAuth: true
    // Client addresses are personal data; the security log in Cosmos DB is where they are kept.
    disableIpMasking: false
    roleAssignments: [
      {
        roleDefinitionIdOrName: 'Monitoring Metrics Publisher'
        principalId: apiIdentity.outputs.principalId
        principalType: 'ServicePrincipal'
      }
    ]
  }
}

// ---------------------------------------------------------------------------------------------------------
// Storage: the deployment package and the Functions host (timer schedules, locks), by identity only
// ---------------------------------------------------------------------------------------------------------

module storage 'br/public:avm/res/storage/storage-account:0.33.0' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    kind: 'StorageV2'
    skuName: 'Standard_LRS'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    // Flex Consumption without a virtual network reaches storage over its public endpoint; access is by
    // Microsoft Entra ID only (no shared key), so the firewall stays open.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    blobServices: {
      containers: [
        {
          name: deploymentContainerName
        }
      ]
    }
    roleAssignments: [
      {
        roleDefinitionIdOrName: 'Storage Blob Data Owner'
        principalId: apiIdentity.outputs.principalId
        principalType: 'ServicePrincipal'
      }
    ]
  }
}

// ---------------------------------------------------------------------------------------------------------
// Key Vault (RBAC) holding SESSION_SIGNING_KEY
// ---------------------------------------------------------------------------------------------------------

module keyVault 'br/public:avm/res/key-vault/vault:0.14.0' = {
  name: 'key-vault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    sku: 'standard'
    enableRbacAuthorization: true
    enableVaultForDeployment: false
    enableVaultForTemplateDeployment: false
    enableVaultForDiskEncryption: false
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    // The only secret can be regenerated at any time (it ends every session); purge protection would only
    // keep `azd down --purge` from freeing the vault name for the same environment.
    enablePurgeProtection: false
    secrets: [
      {
        name: sessionSigningKeySecretName
        value: sessionSigningKey
        contentType: 'text/plain'
      }
    ]
    roleAssignments: [
      {
        roleDefinitionIdOrName: 'Key Vault Secrets User'
        principalId: apiIdentity.outputs.principalId
        principalType: 'ServicePrincipal'
      }
    ]
  }
}

// ---------------------------------------------------------------------------------------------------------
// Cosmos DB and Communication Services
// ---------------------------------------------------------------------------------------------------------

module database 'app/database.bicep' = {
  name: 'database'
  scope: rg
  params: {
    name: 'cosmos-${resourceToken}'
    location: location
    tags: tags
    databaseName: cosmosDatabaseName
    throughputMode: cosmosThroughputMode
    autoscaleMaxThroughput: cosmosAutoscaleMaxThroughput
    dataContributorPrincipalId: apiIdentity.outputs.principalId
  }
}

module email 'app/email.bicep' = {
  name: 'email'
  scope: rg
  params: {
    emailServiceName: 'ecs-${resourceToken}'
    communicationServiceName: 'acs-${resourceToken}'
    tags: tags
    dataLocation: communicationDataLocation
    customDomain: emailDomain
    customDomainVerified: emailDomainVerified
    senderPrincipalId: apiIdentity.outputs.principalId
  }
}

// ---------------------------------------------------------------------------------------------------------
// The Function App
// ---------------------------------------------------------------------------------------------------------

module plan 'br/public:avm/res/web/serverfarm:0.7.0' = {
  name: 'plan'
  scope: rg
  params: {
    name: 'plan-${resourceToken}'
    location: location
    tags: tags
    kind: 'functionapp'
    skuName: 'FC1'
    reserved: true
    zoneRedundant: false
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: tags
    planResourceId: plan.outputs.resourceId
    identityResourceId: apiIdentity.outputs.resourceId
    identityClientId: apiIdentity.outputs.clientId
    deploymentContainerUrl: '${storage.outputs.serviceEndpoints.blob}${deploymentContainerName}'
    storageBlobEndpoint: storage.outputs.serviceEndpoints.blob
    applicationInsightsConnectionString: appInsights.outputs.connectionString
    sessionSigningKeySecretUri: keyVault.outputs.secrets[0].uri
    cosmosEndpoint: database.outputs.endpoint
    cosmosDatabaseName: database.outputs.databaseName
    communicationServicesEndpoint: email.outputs.endpoint
    emailSenderAddress: email.outputs.senderAddress
    microsoftClientId: microsoftClientId
    publicBaseUrl: publicBaseUrl
    siteAdmins: siteAdmins
    accountDeletionGracePeriodHours: accountDeletionGracePeriodHours
    workAccountMfa: workAccountMfa
    microsoftMfaApiAudience: microsoftMfaApiAudience
    trustedPublishingAudience: trustedPublishingAudience
    trustedPublishingEntraAudience: trustedPublishingEntraAudience
    gitlabOidcIssuer: gitlabOidcIssuer
  }
}

// ---------------------------------------------------------------------------------------------------------
// Outputs (azd writes them into .azure/<environment>/.env; none is a secret)
// ---------------------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output FUNCTION_APP_NAME string = api.outputs.name
output FUNCTION_APP_URL string = api.outputs.url
output API_BASE_URL string = '${api.outputs.url}/api'
// Not named AZURE_CLIENT_ID: azd puts outputs into its environment, where that name would steer azd's own
// (and CI's) Azure sign-in.
output API_IDENTITY_CLIENT_ID string = apiIdentity.outputs.clientId
output COSMOS_ENDPOINT string = database.outputs.endpoint
output COSMOS_DATABASE string = database.outputs.databaseName
output COMMUNICATION_SERVICES_ENDPOINT string = email.outputs.endpoint
output EMAIL_SENDER_ADDRESS string = email.outputs.senderAddress
output EMAIL_DOMAIN_VERIFICATION_RECORDS object = email.outputs.customDomainVerificationRecords
output KEY_VAULT_NAME string = keyVault.outputs.name
output SESSION_SIGNING_KEY_SECRET_NAME string = sessionSigningKeySecretName
output APPLICATIONINSIGHTS_NAME string = appInsights.outputs.name
