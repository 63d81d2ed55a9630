use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use switchboard::cli::LogFormat;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's allocator: the server allocates and frees many small objects per
/// request on several threads, and glibc's malloc/free (with arena locks and consolidation) was
/// a fifth of the CPU profile of a simple read; mimalloc cut the CPU per request by about a
/// quarter (docs/performance.md). It also returns the 19 MiB blocks of Argon2 password checks
/// to the OS, which glibc only did with a fixed mmap threshold.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (v2 and v3); libmimalloc-sys does not name it, and
/// is pinned in Cargo.toml so that its enum cannot change under this number unnoticed.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Returns freed memory to the OS at once rather than after mimalloc's delay (1 s in this
/// version): with the delay, a burst of 64 logins with different passwords (19 MiB of Argon2
/// memory each, two at a time) peaked at 102 MB RSS; without it, at 82 MB, with no measurable
/// cost in throughput (docs/performance.md). `MIMALLOC_PURGE_DELAY` in the environment still
/// wins: it is only replaced when it is a delay.
fn purge_freed_memory_at_once() {
    // SAFETY: plain getters and setters of mimalloc's global options, with no pointers.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) > 0
            && std::env::var_os("MIMALLOC_PURGE_DELAY").is_none()
        {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        }
    }
}

fn main() -> ExitCode {
    purge_freed_memory_at_once();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
        .block_on(run())
}

async fn run() -> ExitCode {
    let cli = switchboard::cli::Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().with_current_span(false).init(),
    }
    match switchboard::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("switchboard: {e}");
            ExitCode::FAILURE
        }
    }
}
