// Apollo Gateway in front of one port resolver, for bench/run.py.
//   node apollo.mjs <schema.graphql> <port resolver URL> <listen port>
// Apollo Gateway only fronts federation subgraphs. The port resolver's own SDL (the shared
// schema, with no federation directives) is composed as a Federation 1 subgraph with
// @apollo/composition, and the gateway is started on that static supergraph: every root field
// lives in the one subgraph, so the gateway sends the port plain queries (no _entities, no
// _service), and the resolver needs no federation support.
import { readFileSync } from "node:fs";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { ApolloGateway } from "@apollo/gateway";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";

const [sdlPath, url, port] = process.argv.slice(2);
const composed = composeServices([
  { name: "port", typeDefs: parse(readFileSync(sdlPath, "utf8")), url },
]);
if (composed.errors) {
  console.error(composed.errors.map(String).join("\n"));
  process.exit(2);
}
const server = new ApolloServer({
  gateway: new ApolloGateway({ supergraphSdl: composed.supergraphSdl }),
});
await startStandaloneServer(server, { listen: { host: "127.0.0.1", port: Number(port) } });
console.log(`apollo gateway on ${port}`);
