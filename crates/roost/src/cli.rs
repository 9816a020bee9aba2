//! Command-line surface. Flags mirror `docker compose` where a command has a twin there.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "roost", version, about = "Run Compose stacks on one to seven machines, self-healing")]
pub struct Cli {
    /// Agent address, `unix:///path/roost.sock`. Default: the socket in the default data dir.
    #[arg(long, global = true, env = "ROOST_HOST")]
    pub host: Option<String>,
    /// Token for a `tcp://` host (`roost token --cli` on a member).
    #[arg(long, global = true, env = "ROOST_CLI_TOKEN", hide_env_values = true)]
    pub cli_token: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the agent in the foreground.
    Agent(AgentArgs),
    /// Create or update a stack from Compose files.
    Up(UpArgs),
    /// Remove a stack: its containers and networks (and volumes with --volumes).
    Down(DownArgs),
    /// Return a whole stack to its previous version.
    Rollback(RollbackArgs),
    /// List replicas: one row per replica slot.
    Ps(PsArgs),
    /// List the cluster's stacks.
    Ls(LsArgs),
    /// Show the logs of a stack's services.
    Logs(LogsArgs),
    /// Validate Compose files and print the normalized model.
    Config(ConfigArgs),
    /// Print the token other nodes join this cluster with.
    Token(TokenArgs),
    /// Make this node (its local agent) a member of the cluster at ADDR.
    Join(JoinArgs),
    /// List the cluster's nodes.
    Nodes(NodesArgs),
    /// Leave the cluster; this node becomes a one-node cluster again.
    Leave,
    /// Move every replica off a node (for a reboot or a disk swap).
    Drain { node: String },
    /// Let replicas be placed on a drained node again (existing ones do not move back).
    Undrain { node: String },
    /// Move a service to a node; a stateful one takes its replicated volumes along
    /// (stop, final snapshot, start there: nothing written is lost).
    Move {
        /// STACK/SERVICE.
        service: String,
        /// The node's name (`roost nodes`).
        node: String,
        /// Seconds to wait for it to serve there.
        #[arg(long, default_value_t = 120)]
        wait_timeout: u64,
    },
    /// Manage nodes of the cluster.
    #[command(subcommand)]
    Node(NodeCommand),
    /// The ingress CA, which signs certificates for local names (`tls: internal`).
    #[command(subcommand)]
    Ca(CaCommand),
    /// Where routes with `tls: acme` get certificates (default: Let's Encrypt).
    #[command(subcommand)]
    Acme(AcmeCommand),
    /// Replicated volumes: where each one's copies are and how old they are.
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Internal: the fence watchdog an agent starts (kills stateful containers when the
    /// agent's lease deadline passes, even if the agent is frozen).
    #[command(hide = true)]
    FenceWatchdog {
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long)]
        owner: String,
        #[arg(long)]
        docker_host: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct LsArgs {
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// Make a new token; older ones stop working.
    #[arg(long)]
    pub rotate: bool,
    /// The token for a remote CLI (`--host tcp://ADDR:PORT`) instead of the join token.
    #[arg(long)]
    pub cli: bool,
}

#[derive(Args, Debug)]
pub struct JoinArgs {
    /// Address (HOST:PORT) of any member of the cluster to join.
    pub addr: String,
    /// The token `roost token` printed on a member.
    #[arg(long)]
    pub token: String,
}

#[derive(Args, Debug)]
pub struct NodesArgs {
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum NodeCommand {
    /// Remove a node that is down (refused if it would lose quorum, unless --force).
    Rm {
        name: String,
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    /// Every replicated volume: its primary, each standby with the age of the snapshot
    /// it holds, the recovery point now, and its state.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Stop the service, make its volume snapshot SNAPSHOT where it runs, start it again.
    /// Run it on a node that lists the snapshot (`roost volume snapshots`).
    Restore {
        /// STACK/VOLUME, the volume's Compose name in its stack.
        volume: String,
        /// The snapshot's id (the 8-digit prefix is enough).
        snapshot: String,
    },
    /// The password of the volume repositories, for restic (`restic -r DATA/volumes/NAME/repo`).
    Password,
    /// The snapshots of STACK/VOLUME in this node's copy of its repository.
    Snapshots {
        /// STACK/VOLUME, the volume's Compose name in its stack.
        volume: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum CaCommand {
    /// Print the ingress CA certificate (PEM), for browsers and systems to trust.
    Export,
}

#[derive(Subcommand, Debug)]
pub enum AcmeCommand {
    /// Configure an ACME resolver; registers an account with the CA first.
    Set(AcmeSetArgs),
    /// Show the ACME resolvers (no secrets).
    Show {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct AcmeSetArgs {
    /// The resolver routes name (`tls.certresolver` of a Traefik label; `default` for
    /// roost's own routes and any resolver not configured).
    #[arg(long, default_value = "default")]
    pub resolver: String,
    /// The ACME directory URL; `letsencrypt` and `letsencrypt-staging` are short for
    /// Let's Encrypt's.
    #[arg(long)]
    pub directory: String,
    /// Contact address for the CA's expiry notices (repeatable).
    #[arg(long = "email")]
    pub emails: Vec<String>,
    /// A PEM file with the root the CA's own HTTPS certificate chains to (a private CA).
    #[arg(long)]
    pub root_ca: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct AgentArgs {
    /// Where the agent keeps its state and socket. Default: /var/lib/roost for root,
    /// else $XDG_DATA_HOME/roost (~/.local/share/roost).
    #[arg(long, env = "ROOST_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Docker or Podman API address (unix:///run/podman/podman.sock). Default: DOCKER_HOST,
    /// else unix:///var/run/docker.sock.
    #[arg(long)]
    pub docker_host: Option<String>,
    /// This node's name. Default: the host name.
    #[arg(long)]
    pub name: Option<String>,
    /// Cluster and remote API address (mutual TLS). `none` disables TCP entirely
    /// (a one-node cluster that can never be joined).
    #[arg(long, default_value = "0.0.0.0:4280")]
    pub listen: String,
    /// The address other nodes reach this one at, `IP[:PORT]` (the port defaults to the
    /// listen port). Default: the listen address, or this host's primary IPv4 address
    /// when listening on 0.0.0.0.
    #[arg(long)]
    pub advertise: Option<String>,
    /// A node label `key=value` for placement (repeatable).
    #[arg(long = "label", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// Run as a witness: a voter that holds no workloads.
    #[arg(long)]
    pub witness: bool,
    /// How long a peer may be silent before it counts as down and its replicas move
    /// (0.5s to 60s). Longer rides out flaky links; give every node the same value.
    #[arg(long, default_value = "1.2s", value_parser = parse_down_after)]
    pub down_after: std::time::Duration,
    /// Ingress HTTP address, or `none`. Without the right to bind port 80 the default
    /// falls back to port 8080.
    #[arg(long, default_value = roost_agent::ingress::DEFAULT_HTTP)]
    pub http_listen: String,
    /// A floating IPv4 address (`ADDR/PREFIX`) the cluster's leader holds and announces
    /// with gratuitous ARP: one front door that moves when a node dies. Give it to every
    /// node that may hold it.
    #[arg(long)]
    pub vip: Option<roost_agent::vip::Vip>,
    /// The network device for --vip. Default: the one holding the advertised address.
    #[arg(long, requires = "vip")]
    pub vip_dev: Option<String>,
    /// Ingress HTTPS address, or `none` (falls back to 8443 like --http-listen).
    #[arg(long, default_value = roost_agent::ingress::DEFAULT_HTTPS)]
    pub https_listen: String,
}

fn parse_down_after(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (write e.g. 1.2s or 800ms)"))?;
    let range = std::time::Duration::from_millis(500)..=std::time::Duration::from_secs(60);
    if range.contains(&d) {
        Ok(d)
    } else {
        Err(format!("`{s}` is out of range: use 0.5s to 60s"))
    }
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{s}` is not a label: use key=value")),
    }
}

/// The Compose project a command is about: files, name, profiles.
#[derive(Args, Debug, Clone)]
pub struct ProjectArgs {
    /// Compose file(s); later files merge over earlier ones. Default: compose.yaml,
    /// compose.yml, docker-compose.yaml or docker-compose.yml in the current folder.
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// Stack name. Default: `name:` in the file, else the project folder's name.
    #[arg(short = 'p', long = "project-name")]
    pub project_name: Option<String>,
    /// Enable services of this profile (repeatable; also COMPOSE_PROFILES).
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Wait until every replica runs and is healthy; fail with the reason otherwise.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub wait_timeout: u64,
}

#[derive(Args, Debug)]
pub struct DownArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Also remove the stack's named volumes (their data is lost).
    #[arg(short = 'v', long)]
    pub volumes: bool,
}

#[derive(Args, Debug)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Wait until the previous version runs and is healthy.
    #[arg(long)]
    pub wait: bool,
    #[arg(long, default_value_t = 300)]
    pub wait_timeout: u64,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Only this stack. Default: all stacks.
    #[arg(short = 'p', long = "project-name")]
    pub project_name: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Stack name. Default: the name the Compose files in the current folder give.
    #[arg(short = 'p', long = "project-name")]
    pub project_name: Option<String>,
    /// Compose file(s) to take the stack name from (`-f` means --follow here, as in
    /// `docker compose logs`).
    #[arg(long = "file")]
    pub files: Vec<PathBuf>,
    /// Only this service. Default: all services of the stack.
    pub service: Option<String>,
    /// Keep streaming new lines.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only the last N lines of each replica.
    #[arg(short = 'n', long)]
    pub tail: Option<u64>,
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Print JSON instead of YAML.
    #[arg(long)]
    pub json: bool,
    /// Only validate; print nothing but problems.
    #[arg(short, long)]
    pub quiet: bool,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }

    #[test]
    fn agent_flags_with_bad_values_are_refused_naming_the_value() {
        use clap::Parser;
        let err = |args: &[&str]| super::Cli::try_parse_from(args).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(&["roost", "agent", "--down-after", "10ms"]).contains("`10ms` is out of range: use 0.5s to 60s"));
        assert!(err(&["roost", "agent", "--down-after", "soon"]).contains("write e.g. 1.2s"));
        assert!(err(&["roost", "agent", "--vip", "10.0.0.5"]).contains("with its prefix"));
        assert!(err(&["roost", "agent", "--vip-dev", "eth0"]).contains("--vip"), "--vip-dev needs --vip");
        assert!(super::Cli::try_parse_from(["roost", "agent", "--down-after", "5s", "--vip", "10.0.0.5/24"]).is_ok());
    }
}
