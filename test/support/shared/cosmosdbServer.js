module.exports = globalThis.__sharedModules['@vercel/cosmosdb-server'];
