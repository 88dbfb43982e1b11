import type { Command } from "../define.ts";
import completion from "./completion.ts";
import doctor from "./doctor.ts";
import dbSpawn from "./db/spawn.ts";
import dbLs from "./db/ls.ts";
import dbRm from "./db/rm.ts";
import dbRestart from "./db/restart.ts";
import dbLogs from "./db/logs.ts";
import dbUrl from "./db/url.ts";
import vmInit from "./vm/init.ts";
import vmStart from "./vm/start.ts";
import vmStop from "./vm/stop.ts";
import vmStatus from "./vm/status.ts";
import vmSsh from "./vm/ssh.ts";
import vmRm from "./vm/rm.ts";
import vmSleep from "./vm/sleep.ts";
import vmResize from "./vm/resize.ts";
import vmIgnition from "./vm/ignition.ts";
import tunnelExpose from "./tunnel/expose.ts";
import tunnelUnexpose from "./tunnel/unexpose.ts";
import tunnelList from "./tunnel/list.ts";
import tunnelGc from "./tunnel/gc.ts";
import stateShare from "./state/share.ts";
import stateAttach from "./state/attach.ts";
import stateUndo from "./state/undo.ts";
import stateRecover from "./state/recover.ts";
import statePrune from "./state/prune.ts";
import stateCheckpoint from "./state/checkpoint.ts";
import stateRestore from "./state/restore.ts";
import stateList from "./state/list.ts";
import stateRm from "./state/rm.ts";
import dbSnapshotCreate from "./db/snapshot/create.ts";
import dbSnapshotRestore from "./db/snapshot/restore.ts";
import dbSnapshotList from "./db/snapshot/list.ts";
import dbSnapshotRm from "./db/snapshot/rm.ts";
import configValidate from "./config/validate.ts";
import configShow from "./config/show.ts";
import configSchema from "./config/schema.ts";
import up from "./up.ts";
import down from "./down.ts";
import ps from "./ps.ts";
import { start as nodeStart, stop as nodeStop, restart as nodeRestart } from "./node-action.ts";
import logs from "./logs.ts";
import run from "./run.ts";
import exampleService from "./example-service.ts";
import shell from "./shell.ts";
import agent from "./agent.ts";
import bridgeAgent from "./bridge/agent.ts";
import runner from "./runner.ts";
import sessionServe from "./session/serve.ts";
import { tokenCreate as sessionTokenCreate, tokenLs as sessionTokenLs, tokenRevoke as sessionTokenRevoke } from "./session/token.ts";
import { create as sessionCreate, ls as sessionLs, start as sessionStart, stop as sessionStop, rm as sessionRm, exec as sessionExec, attach as sessionAttach } from "./session/lifecycle.ts";
import bridgeConnect from "./bridge/connect.ts";
import bridgeIntercept from "./bridge/intercept.ts";
import bridgeEnv from "./bridge/env.ts";
import bridgeStatus from "./bridge/status.ts";
import bridgeDisconnect from "./bridge/disconnect.ts";
import bridgeCleanup from "./bridge/cleanup.ts";
import bridgeRbac from "./bridge/rbac.ts";

/**
 * The registry. A command is listed here (and so in help and completion) only once it works.
 * Command modules stay light: heavy code is imported inside run().
 */
export const commands: Command[] = [
  // Local infrastructure
  dbSpawn,
  dbLs,
  dbRm,
  dbRestart,
  dbLogs,
  dbUrl,
  dbSnapshotCreate,
  dbSnapshotRestore,
  dbSnapshotList,
  dbSnapshotRm,
  vmInit,
  vmStart,
  vmStop,
  vmStatus,
  vmSsh,
  vmRm,
  vmSleep,
  vmResize,
  vmIgnition,
  // Kubernetes & hybrid
  bridgeConnect,
  bridgeIntercept,
  bridgeEnv,
  bridgeStatus,
  bridgeDisconnect,
  bridgeCleanup,
  bridgeRbac,
  // Networking & edge
  tunnelExpose,
  tunnelUnexpose,
  tunnelList,
  tunnelGc,
  // Orchestration & state
  up,
  down,
  ps,
  nodeStart,
  nodeStop,
  nodeRestart,
  logs,
  run,
  exampleService,
  shell,
  stateCheckpoint,
  stateRestore,
  stateList,
  stateRm,
  stateShare,
  stateAttach,
  stateUndo,
  stateRecover,
  statePrune,
  sessionCreate,
  sessionLs,
  sessionAttach,
  sessionExec,
  sessionStop,
  sessionStart,
  sessionRm,
  sessionTokenCreate,
  sessionTokenLs,
  sessionTokenRevoke,
  sessionServe,
  configValidate,
  configShow,
  configSchema,
  // Pipelines & CI/CD (hidden role)
  agent,
  bridgeAgent,
  runner,
  // Help & setup
  doctor,
  completion,
] as unknown as Command[];
