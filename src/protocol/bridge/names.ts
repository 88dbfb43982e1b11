/**
 * Names both ends of an intercept derive from its session id: devx creates the agent's objects
 * under them, and the agent (cleaning up after itself) deletes them by the same names.
 */
export const agentName = (session: string) => `devx-agent-${session}`;
