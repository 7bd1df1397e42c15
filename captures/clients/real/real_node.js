// A real AWS SDK for JavaScript fetching instance credentials (issue 24):
// `node real_node.js v2|v3 NODE_MODULES_DIR`, inside the test namespaces only
// (tests/clients_real.rs), where 169.254.169.254 is the mock. Prints no credential value.
const os = require("os");
const path = require("path");
const ifaces = Object.keys(os.networkInterfaces());
if (!ifaces.some((n) => ["h-imds", "h-ctr", "ctr0", "imds0"].includes(n))) {
  console.error("refusing to run: not inside an imw- test namespace");
  process.exit(2);
}
const [mode, dir] = process.argv.slice(2);
const done = (err, ok) => {
  console.log(`${mode}: credentials ${ok ? "found" : "missing"}${err ? " (" + err.code + ")" : ""}`);
  process.exit(ok ? 0 : 1);
};
if (mode === "v2") {
  const AWS = require(path.resolve(dir, "aws-sdk"));
  const c = new AWS.EC2MetadataCredentials({ httpOptions: { timeout: 2000 }, maxRetries: 0 });
  c.get((err) => done(err, !err && !!c.accessKeyId));
} else {
  const { fromInstanceMetadata } = require(path.resolve(dir, "@aws-sdk/credential-provider-imds"));
  fromInstanceMetadata({ timeout: 1000, maxRetries: 0 })()
    .then((c) => done(null, !!c.accessKeyId))
    .catch((e) => done(e, false));
}
