module.exports = globalThis.__sharedModules['@azure/cosmos'];
