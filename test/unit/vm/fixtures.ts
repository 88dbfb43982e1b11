/**
 * Outputs of the real VM CLIs, as they print them (formats of the versions named on each entry).
 * Host paths are a macOS user's; the formats are what matter. Used by the unit tests' exec stubs
 * and by the e2e test's fake binaries.
 */

// podman 5.2.3 (macOS, applehv)
export const PODMAN = {
  version: "podman version 5.2.3\n",
  versionOld: "podman version 4.3.1\n",
  inspectRunning: `[
     {
          "ConfigDir": {
               "Path": "/Users/dev/.config/containers/podman/machine/applehv"
          },
          "ConnectionInfo": {
               "PodmanSocket": {
                    "Path": "/var/folders/4x/vw1q2c0s0pd0l8w3bd4ptqv00000gn/T/podman/devx-api.sock"
               },
               "PodmanPipe": null
          },
          "Created": "2024-10-02T10:11:12.123456+02:00",
          "LastUp": "2024-10-02T10:12:00.987654+02:00",
          "Name": "devx",
          "Resources": {
               "CPUs": 4,
               "DiskSize": 60,
               "Memory": 4096,
               "USBs": []
          },
          "SSHConfig": {
               "IdentityPath": "/Users/dev/.local/share/containers/podman/machine/machine",
               "Port": 52344,
               "RemoteUsername": "core"
          },
          "State": "running",
          "UserModeNetworking": true,
          "Rootful": false,
          "Rosetta": true
     }
]
`,
  inspectMissingStderr: "Error: devx: VM does not exist\n",
  inspectMissingCode: 125,
  initStdout: `Looking up Podman Machine image at quay.io/podman/machine-os:5.2 to create VM
Getting image source signatures
Copying blob sha256:9e8f2a4b3c1d...
Copying config sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a
Writing manifest to image destination
devx-arm64.raw: 939.9MiB / 939.9MiB [==========================================] 100.00%
Machine init complete
To start your machine run:

	podman machine start devx

`,
  startStdout: `Starting machine "devx"

This machine is currently configured in rootless mode. If your containers
require root permissions (e.g. ports < 1024), or if you run into compatibility
issues with non-podman clients, you can switch using the following command:

	podman machine set --rootful devx

API forwarding listening on: /var/folders/4x/vw1q2c0s0pd0l8w3bd4ptqv00000gn/T/podman/devx-api.sock

Machine "devx" started successfully
`,
  stopStdout: 'Machine "devx" stopped successfully\n',
  setRunningStderr: "Error: cannot change settings while the vm is running, run 'podman machine stop' first\n",
};

// limactl 1.0.3 (macOS, vz): `limactl list --json` prints one JSON object per line
export const LIMA = {
  version: "limactl version 1.0.3\n",
  list:
    JSON.stringify({ name: "default", hostname: "lima-default", status: "Stopped", dir: "/Users/dev/.lima/default", vmType: "qemu", arch: "aarch64", cpuType: "", cpus: 4, memory: 4294967296, disk: 107374182400, network: null, sshLocalPort: 0, sshConfigFile: "/Users/dev/.lima/default/ssh.config", config: {}, sshAddress: "127.0.0.1", protected: false, limaVersion: "1.0.3", HostOS: "darwin", HostArch: "aarch64", LimaHome: "/Users/dev/.lima", IdentityFile: "/Users/dev/.lima/_config/user" }) +
    "\n" +
    JSON.stringify({ name: "devx", hostname: "lima-devx", status: "Running", dir: "/Users/dev/.lima/devx", vmType: "vz", arch: "aarch64", cpuType: "", cpus: 4, memory: 8589934592, disk: 64424509440, network: [{ vzNAT: true, macAddress: "52:55:55:12:34:56", interface: "lima0" }], sshLocalPort: 60022, sshConfigFile: "/Users/dev/.lima/devx/ssh.config", hostAgentPID: 43120, driverPID: 43120, config: {}, sshAddress: "127.0.0.1", protected: false, limaVersion: "1.0.3", HostOS: "darwin", HostArch: "aarch64", LimaHome: "/Users/dev/.lima", IdentityFile: "/Users/dev/.lima/_config/user" }) +
    "\n",
  listEmptyStderr: 'time="2024-12-02T10:00:00+01:00" level=warning msg="No instance found. Run `limactl create` to create an instance."\n',
};

// colima 0.8.1: `colima version` (VM not running) and `colima list --json` (NDJSON)
export const COLIMA = {
  version: "colima version 0.8.1\ngit commit: 96598cc5b64e5e9e1e64891642b91edc8ac49d16\n",
  list:
    JSON.stringify({ name: "default", status: "Stopped", arch: "aarch64", cpus: 2, memory: 2147483648, disk: 107374182400, runtime: "docker", address: "" }) +
    "\n" +
    JSON.stringify({ name: "devx", status: "Running", arch: "aarch64", cpus: 4, memory: 8589934592, disk: 64424509440, runtime: "docker", address: "192.168.106.2" }) +
    "\n",
};

// Docker Desktop 4.37.1 (docker CLI 27.4.0)
export const DOCKER_DESKTOP = {
  version: JSON.stringify({
    Client: { Platform: { Name: "" }, Version: "27.4.0", ApiVersion: "1.47", DefaultAPIVersion: "1.47", GitCommit: "bde2b89", GoVersion: "go1.22.10", Os: "darwin", Arch: "arm64", BuildTime: "Mon Dec  9 10:38:15 2024", Context: "desktop-linux" },
    Server: {
      Platform: { Name: "Docker Desktop 4.37.1 (178610)" },
      Components: [{ Name: "Engine", Version: "27.4.0", Details: { ApiVersion: "1.47", Arch: "arm64", BuildTime: "Mon Dec  9 10:42:31 2024", Experimental: "false", GitCommit: "92a8393", GoVersion: "go1.22.10", KernelVersion: "6.10.14-linuxkit", MinAPIVersion: "1.24", Os: "linux" } }],
      Version: "27.4.0",
      ApiVersion: "1.47",
      MinAPIVersion: "1.24",
      GitCommit: "92a8393",
      GoVersion: "go1.22.10",
      Os: "linux",
      Arch: "arm64",
      KernelVersion: "6.10.14-linuxkit",
      BuildTime: "2024-12-09T10:42:31.000000000+00:00",
    },
  }) + "\n",
  // the podman service's answer to the same command (what this machine's docker CLI talks to)
  versionPodman: JSON.stringify({ Client: { Platform: { Name: "Docker Engine - Community" }, Version: "20.10.24", Context: "default" }, Server: { Platform: { Name: "" }, Components: [{ Name: "Podman Engine", Version: "4.3.1" }], Version: "4.3.1" } }) + "\n",
  info: JSON.stringify({ ID: "d7e7c3b1-8f0a-4e39-9f7a-1a2b3c4d5e6f", Containers: 3, ContainersRunning: 1, ContainersPaused: 0, ContainersStopped: 2, Images: 12, Driver: "overlayfs", NCPU: 8, MemTotal: 8217968640, OperatingSystem: "Docker Desktop", OSType: "linux", Architecture: "aarch64", ServerVersion: "27.4.0", Name: "docker-desktop", KernelVersion: "6.10.14-linuxkit", DockerRootDir: "/var/lib/docker", ClientInfo: { Debug: false, Version: "27.4.0", Context: "desktop-linux" } }) + "\n",
  infoStopped: JSON.stringify({ ID: "", Containers: 0, ServerErrors: ["Cannot connect to the Docker daemon at unix:///Users/dev/.docker/run/docker.sock. Is the docker daemon running?"], ClientInfo: { Debug: false, Version: "27.4.0", Context: "desktop-linux" } }) + "\n",
};

// OrbStack 1.9.2
export const ORB = {
  version: "Version: 1.9.2 (1090200)\nCommit: 4e9a6f5c1d0b7e3a2f8c6d4b1a0e9f7c5d3b2a18 (v1.9.2)\n",
  list: JSON.stringify([
    { id: "01JE5Y5W3Z3ZK7Y9Q8N4V6G1XH", name: "devx", image: { distro: "ubuntu", version: "noble", arch: "arm64", variant: "default" }, config: { isolated: false, default_username: "dev" }, builtin: false, state: "running" },
    { id: "01JE5Y8B2C4D6E8F0A1B3C5D7E", name: "scratch", image: { distro: "alpine", version: "3.20", arch: "arm64", variant: "default" }, config: { isolated: false, default_username: "dev" }, builtin: false, state: "stopped" },
  ]) + "\n",
  listEmpty: "[]\n",
};

// tailscale 1.76.6 `tailscale status --json`, trimmed of peers
export const TAILSCALE = {
  status: JSON.stringify({
    Version: "1.76.6-t2fb3b8a9e-g5d0c1c7e4",
    TUN: true,
    BackendState: "Running",
    HaveNodeKey: true,
    AuthURL: "",
    TailscaleIPs: ["100.101.102.103", "fd7a:115c:a1e0::6a01:6667"],
    Self: { ID: "nKx7vG1CNTRL", PublicKey: "nodekey:1f2e3d4c5b6a79880f1e2d3c4b5a69788f1e2d3c4b5a69788f1e2d3c4b5a6978", HostName: "devx", DNSName: "devx.tail1a2b3.ts.net.", OS: "linux", UserID: 1234567890, TailscaleIPs: ["100.101.102.103", "fd7a:115c:a1e0::6a01:6667"], Online: true, Active: true },
    Health: [],
    MagicDNSSuffix: "tail1a2b3.ts.net",
    CurrentTailnet: { Name: "dev@example.com", MagicDNSSuffix: "tail1a2b3.ts.net", MagicDNSEnabled: true },
    CertDomains: ["devx.tail1a2b3.ts.net"],
    Peer: {},
    User: null,
    ClientVersion: null,
  }),
  needsLogin: JSON.stringify({ Version: "1.76.6-t2fb3b8a9e-g5d0c1c7e4", TUN: true, BackendState: "NeedsLogin", AuthURL: "", TailscaleIPs: null, Self: { HostName: "devx", DNSName: "", Online: false, TailscaleIPs: null }, Health: ["not logged in"], CurrentTailnet: null }),
};
