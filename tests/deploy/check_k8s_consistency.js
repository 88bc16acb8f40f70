#!/usr/bin/env node
// Cross-object checks of the rendered kustomizations, which a schema cannot see: the references
// between objects resolve (ConfigMap, PVC, Service selectors and ports, HPA target, PDB and
// PodMonitor selectors), the probes use gRPC health on the gRPC port, the grace period covers
// preStop + the server's drain_timeout_seconds from the ConfigMap, the config's ports match the
// container's, GPU config <-> GPU resource, and the training Job's torchrun environment.
//
//   node check_k8s_consistency.js serve RENDERED.yaml [--gpu]
//   node check_k8s_consistency.js train RENDERED.yaml
'use strict';

const fs = require('fs');
const YAML = require('yaml');

const errors = [];
const check = (ok, message) => { if (!ok) errors.push(message); };

function load(file) {
  return YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS()).filter(Boolean);
}

function matches(selector, labels) {
  const m = (selector && selector.matchLabels) || selector || {};
  return Object.keys(m).length > 0 && Object.entries(m).every(([k, v]) => labels[k] === v);
}

function port(address) {
  const m = /:(\d+)$/.exec(address || '');
  return m ? Number(m[1]) : null;
}

function seconds(probe) { return (probe.periodSeconds || 10) * (probe.failureThreshold || 3); }

function checkServe(objs, gpu) {
  const byKind = (k) => objs.filter((o) => o.kind === k);
  const [deploy] = byKind('Deployment');
  check(deploy, 'no Deployment');
  if (!deploy) return;
  const pod = deploy.spec.template;
  const podLabels = pod.metadata.labels || {};
  check(matches(deploy.spec.selector, podLabels), 'Deployment selector does not match its pods');
  const [c] = pod.spec.containers;
  const ports = Object.fromEntries((c.ports || []).map((p) => [p.name, p.containerPort]));
  check(ports.grpc && ports.metrics, 'container ports named grpc and metrics are required');
  for (const name of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
    const probe = c[name];
    check(probe && probe.grpc && probe.grpc.port === ports.grpc,
          `${name}: must be a native gRPC probe on the grpc port ${ports.grpc}`);
  }
  const minStartup = gpu ? 600 : 120;
  check(c.startupProbe && seconds(c.startupProbe) >= minStartup,
        `startupProbe allows ${c.startupProbe && seconds(c.startupProbe)} s, want >= ${minStartup}`);
  for (const kind of ['requests', 'limits']) {
    const r = (c.resources || {})[kind] || {};
    check(r.cpu && r.memory, `resources.${kind} needs cpu and memory`);
    if (gpu) check(String(r['nvidia.com/gpu']) === '1', `resources.${kind} needs nvidia.com/gpu`);
    else check(!r['nvidia.com/gpu'], `the CPU variant asks for a GPU in resources.${kind}`);
  }

  // Volumes resolve to objects of this render (the config) or to its PVC.
  const configMaps = Object.fromEntries(byKind('ConfigMap').map((o) => [o.metadata.name, o]));
  const pvcs = new Set(byKind('PersistentVolumeClaim').map((o) => o.metadata.name));
  let config = null;
  for (const v of pod.spec.volumes || []) {
    if (v.configMap) {
      check(configMaps[v.configMap.name], `volume ${v.name}: no ConfigMap ${v.configMap.name}`);
      if (configMaps[v.configMap.name]) config = configMaps[v.configMap.name];
    }
    if (v.persistentVolumeClaim) {
      check(pvcs.has(v.persistentVolumeClaim.claimName),
            `volume ${v.name}: no PVC ${v.persistentVolumeClaim.claimName}`);
    }
  }
  for (const m of c.volumeMounts || []) {
    check((pod.spec.volumes || []).some((v) => v.name === m.name), `mount ${m.name}: no volume`);
  }

  // The server's config: the file the args name, its ports, drain time, device.
  const configIdx = (c.args || []).indexOf('--config');
  check(configIdx >= 0, 'the container args give no --config');
  const configPath = configIdx >= 0 ? c.args[configIdx + 1] : '';
  const mount = (c.volumeMounts || []).find((m) => configPath.startsWith(m.mountPath + '/'));
  check(config && mount, `--config ${configPath} is not on the ConfigMap's mount`);
  if (config && mount) {
    const file = configPath.slice(mount.mountPath.length + 1);
    check(config.data && config.data[file], `ConfigMap ${config.metadata.name} has no ${file}`);
    const yaml = YAML.parse(config.data[file] || '{}');
    check(port(yaml.listen) === ports.grpc, `config listen ${yaml.listen} != grpc port`);
    check(port(yaml.metrics_listen) === ports.metrics,
          `config metrics_listen ${yaml.metrics_listen} != metrics port`);
    const drain = yaml.drain_timeout_seconds === undefined ? 30 : yaml.drain_timeout_seconds;
    const pre = c.lifecycle && c.lifecycle.preStop && c.lifecycle.preStop.exec;
    const preStop = pre && pre.command[0] === 'sleep' ? Number(pre.command[1]) : 0;
    check(preStop > 0, 'no preStop sleep (endpoints must drop the pod before it stops admitting)');
    const grace = pod.spec.terminationGracePeriodSeconds || 30;
    check(grace >= preStop + drain + 5,
          `terminationGracePeriodSeconds ${grace} < preStop ${preStop} + drain ${drain} + 5`);
    const cuda = String(yaml.device || 'cpu').startsWith('cuda');
    check(cuda === gpu, `config device ${yaml.device} in the ${gpu ? 'gpu' : 'cpu'} variant`);
  }

  // Services select the pods and target named container ports; gRPC is HTTP/2-aware.
  const services = byKind('Service');
  check(services.length > 0, 'no Service');
  for (const s of services) {
    const name = s.metadata.name;
    check(matches(s.spec.selector, podLabels), `Service ${name} does not select the pods`);
    for (const p of s.spec.ports) {
      check(ports[p.targetPort] !== undefined || Object.values(ports).includes(p.targetPort),
            `Service ${name} port ${p.name}: target ${p.targetPort} is no container port`);
      if (p.name === 'grpc') {
        check(p.appProtocol === 'kubernetes.io/h2c', `Service ${name}: grpc port without h2c`);
      }
    }
  }
  check(services.some((s) => s.spec.ports.some((p) => p.name === 'metrics')),
        'no Service exposes the metrics port');

  const [hpa] = byKind('HorizontalPodAutoscaler');
  check(hpa && hpa.spec.scaleTargetRef.kind === 'Deployment' &&
        hpa.spec.scaleTargetRef.name === deploy.metadata.name, 'HPA does not target the Deployment');
  if (hpa) {
    check(hpa.spec.metrics.some((m) => m.type === 'Pods' && /^lmeye_/.test(m.pods.metric.name)),
          'HPA does not scale on a server metric (queue)');
    check(hpa.spec.minReplicas <= hpa.spec.maxReplicas, 'HPA minReplicas > maxReplicas');
  }
  const [pdb] = byKind('PodDisruptionBudget');
  check(pdb && matches(pdb.spec.selector, podLabels), 'PDB does not select the pods');
  if (pdb && hpa) {
    check(pdb.spec.maxUnavailable !== undefined || pdb.spec.minAvailable < hpa.spec.minReplicas,
          'PDB would block every eviction at minReplicas');
  }
  const monitors = [...byKind('PodMonitor'), ...byKind('ServiceMonitor')];
  check(monitors.length === 1, 'want one PodMonitor or ServiceMonitor');
  for (const m of byKind('PodMonitor')) {
    check(matches(m.spec.selector, podLabels), 'PodMonitor does not select the pods');
    for (const e of m.spec.podMetricsEndpoints) {
      check(ports[e.port] === ports.metrics, `PodMonitor port ${e.port} is not the metrics port`);
    }
  }
  const promRules = byKind('PrometheusRule');
  check(promRules.length === 1 && promRules[0].spec.groups.some((g) => g.rules.length > 0),
        'want one PrometheusRule with the alert rules');
  const ns = new Set(objs.map((o) => o.metadata.namespace));
  check(ns.size === 1, `objects in several namespaces: ${[...ns]}`);
}

function checkTrain(objs) {
  const [job] = objs.filter((o) => o.kind === 'Job');
  check(job, 'no Job');
  if (!job) return;
  const s = job.spec;
  check(s.completionMode === 'Indexed', 'the training Job is not Indexed');
  check(s.completions === s.parallelism, 'completions != parallelism (all ranks run together)');
  const pod = s.template.spec;
  const [c] = pod.containers;
  const env = Object.fromEntries((c.env || []).map((e) => [e.name, e]));
  for (const name of ['RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT', 'LOCAL_RANK']) {
    check(env[name], `no ${name} in the training pod's environment`);
  }
  if (env.RANK) {
    const path = env.RANK.valueFrom && env.RANK.valueFrom.fieldRef &&
        env.RANK.valueFrom.fieldRef.fieldPath;
    check(/batch\.kubernetes\.io\/job-completion-index/.test(path || ''),
          'RANK does not come from the completion index');
  }
  if (env.WORLD_SIZE) {
    check(Number(env.WORLD_SIZE.value) === s.completions, 'WORLD_SIZE != completions');
  }
  const svc = objs.find((o) => o.kind === 'Service' && o.metadata.name === pod.subdomain);
  check(svc && svc.spec.clusterIP === 'None', `no headless Service ${pod.subdomain} (subdomain)`);
  if (svc) {
    check(svc.spec.selector['batch.kubernetes.io/job-name'] === job.metadata.name,
          'the headless Service does not select the Job\'s pods');
    check(svc.spec.ports.some((p) => p.port === Number(env.MASTER_PORT && env.MASTER_PORT.value)),
          'the headless Service does not publish MASTER_PORT');
  }
  check(env.MASTER_ADDR && env.MASTER_ADDR.value === `${job.metadata.name}-0.${pod.subdomain}`,
        `MASTER_ADDR is not rank 0's DNS name ${job.metadata.name}-0.${pod.subdomain}`);
  const cmd = (c.command || []).concat(c.args || []).join(' ');
  check(/^lmeye train --config \/config\/train\.yaml/.test(cmd), `command: ${cmd}`);
  const cm = objs.find((o) => o.kind === 'ConfigMap' && o.data && o.data['train.yaml']);
  const vol = (pod.volumes || []).find((v) => v.configMap && cm && v.configMap.name === cm.metadata.name);
  check(vol && (c.volumeMounts || []).some((m) => m.name === vol.name && m.mountPath === '/config'),
        'train.yaml is not mounted at /config');
  // Until `lmeye train` can check a config by itself: the keys must be the training config's
  // (the key table of model/train/train_config.cc).
  const table = require('path').resolve(__dirname, '..', '..', 'model', 'train', 'train_config.cc');
  if (cm && fs.existsSync(table)) {
    const keys = new Set([...fs.readFileSync(table, 'utf8').matchAll(/\{"(\w+)",/g)].map((m) => m[1]));
    if (keys.size >= 5) {
      for (const k of Object.keys(YAML.parse(cm.data['train.yaml']) || {})) {
        check(keys.has(k), `train.yaml: ${k} is not a key of the training config (${table})`);
      }
    }
  }
  const limits = (c.resources || {}).limits || {};
  check(limits['nvidia.com/gpu'], 'the training pod asks for no GPU');
  check(pod.restartPolicy === 'Never' || pod.restartPolicy === 'OnFailure', 'restartPolicy');
}

const [mode, file, flag] = process.argv.slice(2);
if (!['serve', 'train'].includes(mode) || !file) {
  console.error('usage: check_k8s_consistency.js serve|train RENDERED.yaml [--gpu]');
  process.exit(2);
}
const objs = load(file);
if (mode === 'serve') checkServe(objs, flag === '--gpu');
else checkTrain(objs);
for (const e of errors) console.error(`FAIL ${file}: ${e}`);
console.log(`${errors.length ? 'FAIL' : 'ok  '} ${file}: ${mode}${flag ? ' ' + flag : ''} ` +
            `consistency (${errors.length} problems)`);
process.exitCode = errors.length ? 1 : 0;
