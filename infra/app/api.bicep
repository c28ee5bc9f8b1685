// The Function App on the Flex Consumption plan, running as its user-assigned identity. Its app settings
// are exactly the settings the code reads (lib/shared/settings.ts) plus the platform's own; test/infra.test.ts
// checks both directions. No setting holds a secret: SESSION_SIGNING_KEY is a Key Vault reference.

param name string

param location string = resourceGroup().location

param tags object = {}

@description('Resource ID of the Flex Consumption (FC1) plan.')
param planResourceId string

@description('Resource ID of the user-assigned identity the app runs as.')
param identityResourceId string

@description('Client ID of that identity (AZURE_CLIENT_ID for DefaultAzureCredential, and the host\'s storage and telemetry).')
param identityClientId string

@description('URL of the blob container the Flex Consumption plan deploys the package from.')
param deploymentContainerUrl string

@description('Blob endpoint of the storage account the Functions host uses (AzureWebJobsStorage).')
param storageBlobEndpoint string

@description('Application Insights connection string (an ingestion address, not a credential: ingestion requires a Microsoft Entra token).')
param applicationInsightsConnectionString string

@description('Versionless URI of the Key Vault secret holding the session signing key.')
param sessionSigningKeySecretUri string

param cosmosEndpoint string

param cosmosDatabaseName string

param communicationServicesEndpoint string

param emailSenderAddress string

param microsoftClientId string

@description('The frontend origin: the only CORS origin.')
param publicBaseUrl string

param siteAdmins string = ''

param accountDeletionGracePeriodHours int = 24

@allowed([
  'tenant'
  'verified'
])
param workAccountMfa string = 'tenant'

@description('The aud of the access token verified work-account MFA asks for; empty unless workAccountMfa is verified.')
param microsoftMfaApiAudience string = ''

@description('The aud every GitHub Actions and GitLab CI/CD OIDC token exchanged for a trusted publishing key must carry.')
param trustedPublishingAudience string

@description('The aud values app-only Microsoft Entra access tokens exchanged for trusted publishing keys may carry, comma-separated; empty: the entra provider is off.')
param trustedPublishingEntraAudience string = ''
@description('The GitLab instance whose CI/CD ID tokens trusted publishing takes.')
param gitlabOidcIssuer string

@allowed([
  '20'
  '22'
])
@description('Node.js version of the Flex Consumption runtime: one of the versions package.json supports (engines), both of which .ci/run tests.')
param nodeVersion string = '22'

@allowed([
  512
  2048
  4096
])
@description('Memory of each instance, in MB. Password hashing (argon2id, 19 MiB each) runs on these instances.')
param instanceMemoryMB int = 2048

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

// Every app setting of the Function App. The application's settings (the keys of the zod schema in
// lib/shared/settings.ts) are set here except the local-only COSMOS_KEY and COMMUNICATION_SERVICES_CONNECTION_STRING
// (without them the code uses DefaultAzureCredential), MICROSOFT_LOGIN_HOST, GITHUB_OIDC_ISSUER and
// RDAP_BOOTSTRAP_URL (their defaults, Microsoft's, GitHub's and IANA's own, are right).
var appSettings = {
  // The application (lib/shared/settings.ts)
  COSMOS_ENDPOINT: cosmosEndpoint
  COSMOS_DATABASE: cosmosDatabaseName
  COMMUNICATION_SERVICES_ENDPOINT: communicationServicesEndpoint
  EMAIL_SENDER_ADDRESS: emailSenderAddress
  MICROSOFT_CLIENT_ID: microsoftClientId
  SESSION_SIGNING_KEY: '@Microsoft.KeyVault(SecretUri=${sessionSigningKeySecretUri})'
  PUBLIC_BASE_URL: publicBaseUrl
  ACCOUNT_DELETION_GRACE_PERIOD_HOURS: string(accountDeletionGracePeriodHours)
  SITE_ADMINS: siteAdmins
  WORK_ACCOUNT_MFA: workAccountMfa
  MICROSOFT_MFA_API_AUDIENCE: microsoftMfaApiAudience
  TRUSTED_PUBLISHING_AUDIENCE: trustedPublishingAudience
  TRUSTED_PUBLISHING_ENTRA_AUDIENCE: trustedPublishingEntraAudience
  GITLAB_OIDC_ISSUER: gitlabOidcIssuer

  // DefaultAzureCredential picks the user-assigned identity by its client ID.
  AZURE_CLIENT_ID: identityClientId

  // The Functions host's storage (timer schedules and locks, host keys), by identity.
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint

  // Telemetry, accepted only with the identity's Microsoft Entra token.
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

module site 'br/public:avm/res/web/site:0.24.0' = {
  name: 'function-app'
  params: {
    name: name
    location: location
    // azd deploys the `api` service of azure.yaml to the resource carrying this tag.
    tags: union(tags, {
      'azd-service-name': 'api'
    })
    kind: 'functionapp,linux'
    serverFarmResourceId: planResourceId
    managedIdentities: {
      systemAssigned: false
      userAssignedResourceIds: [
        identityResourceId
      ]
    }
    // Key Vault references (SESSION_SIGNING_KEY) are resolved with the user-assigned identity.
    keyVaultAccessIdentityResourceId: identityResourceId
    httpsOnly: true
    clientAffinityEnabled: false
    publicNetworkAccess: 'Enabled'
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityResourceId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
    siteConfig: {
      alwaysOn: false
      minTlsVersion: '1.2'
      // The frontend's origin and nothing else; the API takes bearer tokens, never cookies.
      cors: {
        allowedOrigins: [
          publicBaseUrl
        ]
        supportCredentials: false
      }
    }
    configs: [
      {
        name: 'appsettings'
        // The settings below replace whatever is there, so nothing unread lingers.
        retainCurrentAppSettings: false
        properties: appSettings
      }
    ]
    // Deployments use Microsoft Entra tokens (azd, Core Tools, az); no publishing passwords.
    basicPublishingCredentialsPolicies: [
      {
        name: 'ftp'
        allow: false
      }
      {
        name: 'scm'
        allow: false
      }
    ]
  }
}

output name string = site.outputs.name
output defaultHostname string = site.outputs.defaultHostname
output url string = 'https://${site.outputs.defaultHostname}'
