//! Writing the CLI's output to stdout.
//!
//! `println!` panics when stdout is closed early, as in `roost ps | head`: Rust ignores
//! SIGPIPE, so the write fails with `BrokenPipe`. [`outln!`] and [`out!`] treat that
//! as the reader having seen enough and end the command quietly, as a C program
//! killed by SIGPIPE would (exit status 141, which shells ignore in a pipeline).

use std::io::Write;

/// Writes `args` to stdout; a closed stdout ends the process quietly.
pub fn write(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// `println!` for the CLI's output (see the module docs).
macro_rules! outln {
    () => { $crate::out::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::out::write(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` for the CLI's output.
macro_rules! out {
    ($($arg:tt)*) => { $crate::out::write(format_args!($($arg)*)) };
}
