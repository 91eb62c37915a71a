// Compiles DonationRegistry.sol with solc-js (npm `solc`, pinned in
// package.json) and writes the ABI and the deployment bytecode to
// assets/contracts/. `node build.mjs --check` fails when the committed files
// differ from a fresh compile instead of writing them.
//   cd contracts && npm ci && node build.mjs
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, "..", "assets", "contracts");
const name = "DonationRegistry";
const input = {
  language: "Solidity",
  sources: { [`${name}.sol`]: { content: fs.readFileSync(path.join(here, `${name}.sol`), "utf8") } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    metadata: { bytecodeHash: "none" },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const result = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (result.errors || []).filter((e) => e.severity === "error");
for (const e of result.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);
const contract = result.contracts[`${name}.sol`][name];
const files = {
  [`${name}.abi.json`]: JSON.stringify(contract.abi, null, 2) + "\n",
  [`${name}.bin`]: contract.evm.bytecode.object + "\n",
  [`${name}.json`]: JSON.stringify({ contractName: name, compiler: `solc ${solc.version()}`, settings: input.settings }, null, 2) + "\n",
};
const check = process.argv.includes("--check");
let stale = false;
fs.mkdirSync(out, { recursive: true });
for (const [file, content] of Object.entries(files)) {
  const target = path.join(out, file);
  if (check) {
    const current = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : "";
    if (current !== content) {
      console.error(`assets/contracts/${file} differs from a fresh compile; run: cd contracts && node build.mjs`);
      stale = true;
    }
  } else {
    fs.writeFileSync(target, content);
  }
}
if (stale) process.exit(1);
console.log(`${name}: solc ${solc.version()}, ${contract.evm.bytecode.object.length / 2} bytes of bytecode -> assets/contracts/${check ? " (up to date)" : ""}`);
