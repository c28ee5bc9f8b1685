module.exports = globalThis.__sharedModules['@azure/communication-email'];
