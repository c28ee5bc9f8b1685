// Azure Communication Services with an Email Communication Service. An Azure-managed domain
// (<guid>.azurecomm.net) is always provisioned and linked, so mail works on the first deployment; a custom
// domain is added when one is given, and linked and used as the sender once its DNS records are verified.
// The Function App's identity may send (Communication and Email Service Owner on the ACS resource only).

param emailServiceName string

param communicationServiceName string

param tags object = {}

@description('Where both services keep their data at rest; a domain can only be linked within the same data location.')
param dataLocation string

@description('Custom domain to send from; empty for the Azure-managed domain only.')
param customDomain string = ''

@description('True once the custom domain\'s DNS records are verified: it is then linked and used as the sender.')
param customDomainVerified bool = false

@description('Principal (object) ID allowed to send email through Communication Services.')
param senderPrincipalId string

var useCustomDomain = !empty(customDomain)
var sendFromCustomDomain = useCustomDomain && customDomainVerified

var azureManagedDomain = {
  name: 'AzureManagedDomain'
  domainManagement: 'AzureManaged'
  userEngagementTracking: 'Disabled'
}

var customDomains = useCustomDomain
  ? [
      {
        name: customDomain
        domainManagement: 'CustomerManaged'
        userEngagementTracking: 'Disabled'
        senderUsernames: [
          {
            name: 'donotreply'
            username: 'DoNotReply'
            displayName: 'DoNotReply'
          }
        ]
      }
    ]
  : []

module emailService 'br/public:avm/res/communication/email-service:0.4.5' = {
  name: 'email-service'
  params: {
    name: emailServiceName
    location: 'global'
    tags: tags
    dataLocation: dataLocation
    // Index 0: the Azure-managed domain; index 1: the custom domain, if any.
    domains: concat([azureManagedDomain], customDomains)
  }
}

module communicationService 'br/public:avm/res/communication/communication-service:0.5.0' = {
  name: 'communication-service'
  params: {
    name: communicationServiceName
    location: 'global'
    tags: tags
    dataLocation: dataLocation
    linkedDomains: sendFromCustomDomain
      ? emailService.outputs.domainResourceIds
      : [emailService.outputs.domainResourceIds[0]]
    roleAssignments: [
      {
        // Built-in role that allows sending email with a Microsoft Entra token (09976791-48a7-449e-bb21-39d1a415f350).
        roleDefinitionIdOrName: 'Communication and Email Service Owner'
        principalId: senderPrincipalId
        principalType: 'ServicePrincipal'
      }
    ]
  }
}

var senderDomain = sendFromCustomDomain ? customDomain : emailService.outputs.domainFromSenderDomains[0]

@description('COMMUNICATION_SERVICES_ENDPOINT: the resource\'s https endpoint (hostName has no scheme).')
output endpoint string = 'https://${communicationService.outputs.endpoint}'

@description('EMAIL_SENDER_ADDRESS: DoNotReply at the domain mail is sent from.')
output senderAddress string = 'DoNotReply@${senderDomain}'

@description('DNS records to create for the custom domain before setting emailDomainVerified (empty without one).')
output customDomainVerificationRecords object = useCustomDomain ? emailService.outputs.domainVerificationRecords[1] : {}
