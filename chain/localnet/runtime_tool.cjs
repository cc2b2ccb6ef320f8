// Runtime helpers for the local chain, run with Node and Chopsticks' own executor (no node binary):
//   node runtime_tool.cjs build-raw PLAIN.json OUT.json   plain spec -> raw genesis (GenesisBuilder API)
//   node runtime_tool.cjs slot-duration SPEC.json         the runtime's Aura slot (ms), unresolved imports allowed
//   node runtime_tool.cjs launch SLOT_MS SPEC.json -- ARGS   Chopsticks' CLI with that slot duration seeded
// NODE_PATH must hold the node_modules that has @acala-network/chopsticks (chain/localnet/chopsticks.py).
'use strict';
const fs = require('fs');
const core = require('@acala-network/chopsticks-core');

const storageless = {   // genesis building reads nothing that it did not write itself
  getStorage: async () => undefined,
  getNextKey: async () => undefined,
  offchainGetStorage: async () => undefined,
  offchainTimestamp: async () => Date.now(),
  offchainRandomSeed: async () => '0x' + '00'.repeat(32),
  offchainSubmitTransaction: async () => false,
};

// the well-known storage key of the runtime wasm, the hex of ':code'
const CODE_KEY = '0x' + Buffer.from(':code', 'utf8').toString('hex');

function codeOf(spec) {
  const g = spec.genesis || {};
  if (g.raw && g.raw.top && g.raw.top[CODE_KEY]) return g.raw.top[CODE_KEY];
  if (g.runtimeGenesis && g.runtimeGenesis.code) return g.runtimeGenesis.code;
  if (g.runtime && g.runtime.code) return g.runtime.code;
  throw new Error('no runtime code in the chain spec (genesis.raw.top[":code"] or genesis.runtimeGenesis.code)');
}

async function call(wasm, method, args) {
  const r = await core.runTask({ wasm, calls: [[method, args]], mockSignatureHost: false,
    allowUnresolvedImports: true, runtimeLogLevel: 0 }, storageless);
  if ('Error' in r) throw new Error(`${method}: ${r.Error}`);
  return r.Call;
}

function compact(n) {
  if (n < 1 << 6) return Buffer.from([n << 2]);
  if (n < 1 << 14) { const b = Buffer.alloc(2); b.writeUInt16LE((n << 2) | 1); return b; }
  if (n < 1 << 30) { const b = Buffer.alloc(4); b.writeUInt32LE(((n << 2) | 2) >>> 0); return b; }
  throw new Error('too long');
}

function readCompact(buf, pos) {
  const mode = buf[pos] & 3;
  if (mode === 0) return [buf[pos] >> 2, 1];
  if (mode === 1) return [buf.readUInt16LE(pos) >> 2, 2];
  if (mode === 2) return [buf.readUInt32LE(pos) >>> 2, 4];
  throw new Error('big compact');
}

function merge(base, patch) {   // JSON-merge: objects merge recursively, anything else replaces
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = (base && typeof base === 'object' && !Array.isArray(base)) ? { ...base } : {};
  for (const [k, v] of Object.entries(patch)) out[k] = merge(out[k], v);
  return out;
}

async function buildRaw(plainPath, outPath) {
  const spec = JSON.parse(fs.readFileSync(plainPath, 'utf8'));
  if (spec.genesis && spec.genesis.raw) { fs.copyFileSync(plainPath, outPath); return; }
  const rg = spec.genesis.runtimeGenesis || {};
  const wasm = codeOf(spec);
  let preset, build = 'GenesisBuilder_build_state';
  try {
    preset = await call(wasm, 'GenesisBuilder_get_preset', ['0x00']);
  } catch (e) {   // older runtimes
    preset = await call(wasm, 'GenesisBuilder_create_default_config', []);
    build = 'GenesisBuilder_build_config';
  }
  let buf = Buffer.from(preset.result.slice(2), 'hex');
  let pos = 0;
  if (build === 'GenesisBuilder_build_state') {   // Option<Vec<u8>>
    if (buf[0] !== 1) throw new Error('the runtime has no default genesis preset');
    pos = 1;
  }
  const [len, used] = readCompact(buf, pos);
  const defaults = JSON.parse(buf.slice(pos + used, pos + used + len).toString('utf8'));
  const config = rg.patch ? merge(defaults, rg.patch) : (rg.config || defaults);
  const json = Buffer.from(JSON.stringify(config), 'utf8');
  const built = await call(wasm, build, ['0x' + Buffer.concat([compact(json.length), json]).toString('hex')]);
  const top = {};
  for (const [k, v] of built.storageDiff) if (v !== null) top[k] = v;
  top[CODE_KEY] = wasm;
  const raw = { ...spec, genesis: { raw: { top, childrenDefault: {} } } };
  fs.writeFileSync(outPath, JSON.stringify(raw));
}

async function slotDuration(specPath) {
  const wasm = codeOf(JSON.parse(fs.readFileSync(specPath, 'utf8')));
  const r = await call(wasm, 'AuraApi_slot_duration', []);
  return Buffer.from(r.result.slice(2, 18), 'hex').readBigUInt64LE(0).toString();
}

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === 'build-raw') {
    await buildRaw(rest[0], rest[1]);
  } else if (cmd === 'slot-duration') {
    process.stdout.write(await slotDuration(rest[0]) + '\n');
  } else if (cmd === 'launch') {
    const [slotMs, specPath, sep, ...args] = rest;
    if (sep !== '--') throw new Error('usage: launch SLOT_MS SPEC.json -- CHOPSTICKS_ARGS');
    const wasm = codeOf(JSON.parse(fs.readFileSync(specPath, 'utf8')));
    // Chopsticks asks AuraApi_slot_duration with unresolved imports off, which fails on 2025 runtimes
    // and silently falls back to 12 s: give its memoised answer the runtime's real slot instead
    core.getAuraSlotDuration.cache.set(wasm, Promise.resolve(Number(slotMs)));
    process.argv = [process.argv[0], 'chopsticks', ...args];
    require('@acala-network/chopsticks/cli');
    return;
  } else {
    throw new Error(`unknown command ${cmd}`);
  }
  await core.destroyWorker();
  process.exit(0);
}

main().catch((e) => { console.error(String(e && e.message || e)); process.exit(1); });
