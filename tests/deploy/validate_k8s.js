#!/usr/bin/env node
// Validates rendered Kubernetes manifests (multi-document YAML, e.g. `kubectl kustomize DIR`)
// offline against the Kubernetes API schemas:
//   - kubernetes-models (the API's OpenAPI schemas compiled to validators: types, required fields,
//     enums, formats) and @kubernetes-models/prometheus-operator for PodMonitor/ServiceMonitor;
//   - a strict pass, as `kubeconform -strict` or the API server's strict field validation: every
//     field must exist in the schema (the OpenAPI schemas allow unknown fields, and the API
//     server would drop a misspelt `readinesProbe` silently). The field lists are read from the
//     same packages' type declarations (.d.ts), which are generated from the same schemas.
//
//   node validate_k8s.js FILE.yaml...      exit 0: all valid; 1: errors (printed); 2: usage.
//   node validate_k8s.js --self-test       checks that broken objects are rejected.
'use strict';

const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

// ---- Schema validation (kubernetes-models) ------------------------------------------------

// apiVersion + kind -> the module that exports the model class.
function modelModule(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === 'monitoring.coreos.com') {
    return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  }
  return group === '' ? `kubernetes-models/${version}/${kind}`
                      : `kubernetes-models/${group}/${version}/${kind}`;
}

function loadModel(apiVersion, kind) {
  const mod = modelModule(apiVersion, kind);
  let exports;
  try {
    exports = require(mod);
  } catch (e) {
    return { error: `no schema for ${apiVersion} ${kind} (${mod})` };
  }
  if (typeof exports[kind] !== 'function') return { error: `${mod} exports no ${kind}` };
  return { Model: exports[kind], module: mod };
}

// ---- Strict field check (type declarations) -----------------------------------------------

// A tiny reader of the generated .d.ts files: interfaces, type aliases and imports, with types
// built from object literals, index signatures, Array<T>, unions, literals and names.
function tokenize(src) {
  src = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
  const re = /\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[A-Za-z_$][\w$]*|-?\d+(?:\.\d+)?|=>|[{}()<>\[\];:,|?=&.*])/g;
  const tokens = [];
  let m;
  while ((m = re.exec(src)) !== null) tokens.push(m[1]);
  return tokens;
}

class TypeReader {
  constructor(tokens) { this.t = tokens; this.i = 0; }
  peek(k = 0) { return this.t[this.i + k]; }
  next() { return this.t[this.i++]; }
  eat(tok) { if (this.peek() === tok) { this.i++; return true; } return false; }
  expect(tok) {
    const got = this.next();
    if (got !== tok) throw new Error(`expected ${tok}, got ${got}`);
  }

  // Type := Member ('|' Member)*
  type() {
    this.eat('|');
    const alts = [this.primary()];
    while (this.eat('|')) alts.push(this.primary());
    return alts.length === 1 ? alts[0] : { kind: 'union', alts };
  }

  primary() {
    const tok = this.next();
    let result;
    if (tok === '{') {
      result = this.objectBody();
    } else if (tok === '(') {
      result = this.type();
      this.expect(')');
    } else if (tok === 'Array' && this.peek() === '<') {
      this.next();
      result = { kind: 'array', of: this.type() };
      this.expect('>');
    } else if (tok.startsWith('"') || tok.startsWith("'") || /^-?\d/.test(tok) ||
               ['string', 'number', 'boolean', 'null', 'true', 'false'].includes(tok)) {
      result = { kind: 'primitive' };
    } else if (['any', 'unknown', 'object', 'never', 'undefined'].includes(tok)) {
      result = { kind: 'any' };
    } else {
      // A name, maybe qualified (import("x").Y) or indexed (IFoo["bar"]): keep the name.
      let name = tok;
      if (tok === 'import') {
        this.expect('('); this.next(); this.expect(')'); this.expect('.'); name = this.next();
      }
      while (this.peek() === '.') { this.next(); name = this.next(); }
      if (this.peek() === '<') {  // generic arguments: not used by the models' data types
        let depth = 0;
        do {
          const x = this.next();
          if (x === '<') depth++;
          if (x === '>') depth--;
        } while (depth > 0);
      }
      result = { kind: 'ref', name };
      if (this.peek() === '[' && this.peek(1) !== ']') {
        this.next(); this.next(); this.expect(']');
        result = { kind: 'any' };
      }
    }
    while (this.peek() === '[' && this.peek(1) === ']') {
      this.next(); this.next();
      result = { kind: 'array', of: result };
    }
    return result;
  }

  // After '{': members until '}'.
  objectBody() {
    const fields = {};
    let index = null;
    while (!this.eat('}')) {
      if (this.peek() === '[') {  // [key: string]: T;
        this.next(); this.next(); this.expect(':'); this.next(); this.expect(']');
        this.expect(':');
        index = this.type();
      } else {
        let name = this.next();
        if (name === 'readonly') name = this.next();
        if (name.startsWith('"') || name.startsWith("'")) name = name.slice(1, -1);
        this.eat('?');
        this.expect(':');
        fields[name] = this.type();
      }
      this.eat(';') || this.eat(',');
    }
    return index !== null && Object.keys(fields).length === 0
        ? { kind: 'map', of: index }
        : { kind: 'object', fields, index };
  }
}

const fileCache = new Map();

// Reads one .d.ts file: { types: name -> type, imports: name -> {from, name}, exportsFrom: [] }.
function readDecl(file) {
  if (fileCache.has(file)) return fileCache.get(file);
  const info = { file, types: {}, imports: {}, aliases: {}, reexports: [] };
  fileCache.set(file, info);
  const r = new TypeReader(tokenize(fs.readFileSync(file, 'utf8')));
  while (r.peek() !== undefined) {
    const tok = r.next();
    if (tok === 'import' && r.peek() === '{') {
      r.next();
      while (!r.eat('}')) {
        const name = r.next();
        let local = name;
        if (r.eat('as')) local = r.next();
        info.imports[local] = { name, from: null };
        r.eat(',');
      }
      r.expect('from');
      const from = r.next().slice(1, -1);
      for (const v of Object.values(info.imports)) if (v.from === null) v.from = from;
    } else if (tok === 'export' && r.peek() === '{') {
      r.next();
      const pairs = [];
      while (!r.eat('}')) {
        const name = r.next();
        let as = name;
        if (r.eat('as')) as = r.next();
        pairs.push([name, as]);
        r.eat(',');
      }
      if (r.eat('from')) {
        const from = r.next().slice(1, -1);
        for (const [name, as] of pairs) info.imports[as] = { name, from };
      } else {
        for (const [name, as] of pairs) if (name !== as) info.aliases[as] = name;
      }
    } else if (tok === 'export' && r.peek() === '*') {
      r.next(); r.expect('from');
      info.reexports.push(r.next().slice(1, -1));
    } else if (tok === 'interface') {
      const name = r.next();
      const bases = [];
      if (r.eat('extends')) {
        do { bases.push(r.primary()); } while (r.eat(','));
      }
      r.expect('{');
      const body = r.objectBody();
      body.bases = bases.filter((b) => b.kind === 'ref' && b.name !== 'TypeMeta');
      info.types[name] = body;
    } else if (tok === 'type' && /^[A-Za-z_$]/.test(r.peek() || '') && r.peek(1) === '=') {
      const name = r.next();
      r.expect('=');
      info.types[name] = r.type();
    } else if (tok === 'class' || tok === 'function' || tok === 'const') {
      // The class repeats the interface's members: skip its body.
      while (r.peek() !== undefined && r.peek() !== '{' && r.peek() !== ';') r.next();
      if (r.eat('{')) {
        let depth = 1;
        while (depth > 0 && r.peek() !== undefined) {
          const x = r.next();
          if (x === '{') depth++;
          if (x === '}') depth--;
        }
      }
    }
  }
  return info;
}

function resolveModuleDecl(from, fromFile) {
  let base;
  if (from.startsWith('.')) {
    base = path.resolve(path.dirname(fromFile), from);
  } else {
    try {
      base = require.resolve(from).replace(/\.js$/, '');
    } catch (e) {
      return null;
    }
  }
  for (const candidate of [base + '.d.ts', path.join(base, 'index.d.ts')]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

// Resolves a name as seen from a declaration file to { type, file } or null.
function resolveName(name, file, depth = 0) {
  if (depth > 20) return null;
  const info = readDecl(file);
  if (info.aliases[name]) name = info.aliases[name];
  if (info.types[name]) return { type: info.types[name], file };
  const imp = info.imports[name];
  if (imp) {
    const target = resolveModuleDecl(imp.from, file);
    if (target) return resolveName(imp.name, target, depth + 1);
    return null;
  }
  for (const from of info.reexports) {
    const target = resolveModuleDecl(from, file);
    if (target) {
      const found = resolveName(name, target, depth + 1);
      if (found) return found;
    }
  }
  return null;
}

// Fields of an object type, the bases' included.
function objectFields(type, file) {
  const fields = { ...type.fields };
  for (const base of type.bases || []) {
    const resolved = resolveName(base.name, file);
    if (resolved && resolved.type.kind === 'object') {
      Object.assign(fields, objectFields(resolved.type, resolved.file));
    }
  }
  return fields;
}

// Appends "path: unknown field" errors for data that the type does not declare.
function strictCheck(data, type, file, where, errors, unresolved) {
  if (data === null || data === undefined || !type) return;
  switch (type.kind) {
    case 'ref': {
      const resolved = resolveName(type.name, file);
      if (!resolved) {
        unresolved.add(type.name);
        return;
      }
      strictCheck(data, resolved.type, resolved.file, where, errors, unresolved);
      return;
    }
    case 'array':
      if (Array.isArray(data)) {
        data.forEach((item, i) => strictCheck(item, type.of, file, `${where}[${i}]`, errors,
                                              unresolved));
      }
      return;
    case 'map':
      if (typeof data === 'object' && !Array.isArray(data)) {
        for (const [k, v] of Object.entries(data)) {
          strictCheck(v, type.of, file, `${where}.${k}`, errors, unresolved);
        }
      }
      return;
    case 'object': {
      if (typeof data !== 'object' || Array.isArray(data)) return;
      const fields = objectFields(type, file);
      for (const [k, v] of Object.entries(data)) {
        if (Object.prototype.hasOwnProperty.call(fields, k)) {
          strictCheck(v, fields[k], file, `${where}.${k}`, errors, unresolved);
        } else if (type.index) {
          strictCheck(v, type.index, file, `${where}.${k}`, errors, unresolved);
        } else {
          errors.push(`${where}.${k}: unknown field`);
        }
      }
      return;
    }
    case 'union': {
      // Strict when exactly one alternative is an object type (T | null and the like).
      const objects = type.alts.filter((a) => a.kind !== 'primitive' && a.kind !== 'any');
      if (objects.length === 1) strictCheck(data, objects[0], file, where, errors, unresolved);
      return;
    }
    default:
      return;
  }
}

// ---- Driver ---------------------------------------------------------------------------------

function validateObject(obj, label) {
  const errors = [];
  const unresolved = new Set();
  if (!obj || typeof obj !== 'object' || !obj.apiVersion || !obj.kind) {
    return { errors: [`${label}: not a Kubernetes object (apiVersion and kind required)`] };
  }
  const { Model, module: mod, error } = loadModel(obj.apiVersion, obj.kind);
  if (error) return { errors: [`${label}: ${error}`] };
  try {
    new Model(obj).validate();
  } catch (e) {
    const details = (e.errors || []).map((x) => `${x.instancePath || '/'} ${x.message}` +
        (x.params && x.params.allowedValues ? ` (${x.params.allowedValues.join(', ')})` : ''));
    errors.push(`${label}: schema: ${details.length ? details.join('; ') : e.message}`);
  }
  const declFile = resolveModuleDecl(mod, __filename);
  const iface = `I${obj.kind}`;
  const root = declFile && resolveName(iface, declFile);
  if (!root) {
    errors.push(`${label}: no type declaration ${iface} for the strict field check`);
  } else {
    const fieldErrors = [];
    strictCheck(obj, root.type, root.file, '', fieldErrors, unresolved);
    for (const e of fieldErrors) errors.push(`${label}: ${e.slice(1)}`);
  }
  for (const name of unresolved) errors.push(`${label}: strict check: unresolved type ${name}`);
  return { errors };
}

function validateFile(file) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'));
  const errors = [];
  const kinds = [];
  docs.forEach((doc, i) => {
    if (doc.errors.length) {
      errors.push(`${file}#${i}: YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
      return;
    }
    const obj = doc.toJS();
    if (obj === null) return;
    const label = `${file}: ${obj.kind || '?'}/${(obj.metadata && obj.metadata.name) || i}`;
    kinds.push(`${obj.kind}/${obj.metadata && obj.metadata.name}`);
    errors.push(...validateObject(obj, label).errors);
  });
  return { errors, kinds };
}

function selfTest() {
  const good = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x', labels: { a: 'b' } },
    spec: {
      selector: { matchLabels: { a: 'b' } },
      template: {
        metadata: { labels: { a: 'b' } },
        spec: {
          containers: [{
            name: 'c', image: 'i', ports: [{ name: 'grpc', containerPort: 50051 }],
            readinessProbe: { grpc: { port: 50051 } },
            resources: { limits: { cpu: '1', 'nvidia.com/gpu': 1 } },
          }],
        },
      },
    },
  };
  const cases = [
    ['a valid Deployment', good, 0],
    ['a misspelt container field', (() => {
      const o = structuredClone(good);
      o.spec.template.spec.containers[0].readinesProbe = o.spec.template.spec.containers[0].readinessProbe;
      return o;
    })(), 1],
    ['a string port', (() => {
      const o = structuredClone(good);
      o.spec.template.spec.containers[0].ports[0].containerPort = 'grpc';
      return o;
    })(), 1],
    ['a missing selector', (() => { const o = structuredClone(good); delete o.spec.selector; return o; })(), 1],
    ['an unknown field in a probe', (() => {
      const o = structuredClone(good);
      o.spec.template.spec.containers[0].readinessProbe.grpc.service_name = 'x';
      return o;
    })(), 1],
    ['a PodMonitor with a misspelt endpoint field', {
      apiVersion: 'monitoring.coreos.com/v1', kind: 'PodMonitor', metadata: { name: 'm' },
      spec: { selector: { matchLabels: { a: 'b' } }, podMetricsEndpoints: [{ port: 'metrics', intervall: '15s' }] },
    }, 1],
    ['a valid PodMonitor', {
      apiVersion: 'monitoring.coreos.com/v1', kind: 'PodMonitor', metadata: { name: 'm' },
      spec: { selector: { matchLabels: { a: 'b' } }, podMetricsEndpoints: [{ port: 'metrics', interval: '15s' }] },
    }, 0],
    ['an indexed Job with a bad completionMode', {
      apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' },
      spec: { completionMode: 'Numbered', template: { spec: { containers: [{ name: 'c' }], restartPolicy: 'Never' } } },
    }, 1],
    ['an unknown kind', { apiVersion: 'v1', kind: 'Bogus', metadata: { name: 'b' } }, 1],
  ];
  let failed = 0;
  for (const [name, obj, wantErrors] of cases) {
    const { errors } = validateObject(obj, name);
    const ok = wantErrors === 0 ? errors.length === 0 : errors.length > 0;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${errors.length ? ': ' + errors.join(' | ') : ''}`);
    if (!ok) failed++;
  }
  return failed === 0 ? 0 : 1;
}

function main(argv) {
  if (argv[0] === '--self-test') return selfTest();
  if (argv.length === 0) {
    console.error('usage: validate_k8s.js FILE.yaml... | --self-test');
    return 2;
  }
  let failed = 0;
  for (const file of argv) {
    const { errors, kinds } = validateFile(file);
    if (kinds.length === 0) errors.push(`${file}: no Kubernetes objects`);
    for (const e of errors) console.error(e);
    console.log(`${errors.length ? 'FAIL' : 'ok  '} ${file}: ${kinds.length} objects ` +
                `(${kinds.join(', ')})`);
    if (errors.length) failed++;
  }
  return failed === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
