// Fails the install with one clear line when the system pieces the addon links against are missing.
const fs = require("node:fs");
const { execSync } = require("node:child_process");

function fail(line) {
  console.error(`nerveseg: ${line}`);
  process.exit(1);
}

const header = ["/usr/include/dnnl.hpp", "/usr/include/oneapi/dnnl/dnnl.hpp"].find((p) => fs.existsSync(p));
if (!header)
  fail("oneDNN is missing: run `apt-get install -y libdnnl-dev` (Debian's oneDNN 2.6) and install again");
try {
  execSync("g++ --version", { stdio: "ignore" });
} catch {
  fail("no C++ compiler: run `apt-get install -y g++ make python3` and install again");
}
