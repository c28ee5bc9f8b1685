module.exports = globalThis.__sharedModules['@zeit/cosmosdb-query/lib/transformer'];
