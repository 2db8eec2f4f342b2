//! `completions` and `man`: the command line described from its own definition (clap), so
//! neither can drift from what the binary accepts.

use super::Cli;
use clap::CommandFactory;
use std::path::Path;

/// A completion script for `shell` on standard output.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    // Into memory first: clap_complete panics when its writer fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "costguard", &mut script);
    super::emit(&script)
}

/// The man page on standard output, or one page per command (costguard-actions-approve.1 ...)
/// in `out`.
pub fn man(out: Option<&Path>) -> anyhow::Result<()> {
    let command = Cli::command();
    match out {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            super::emit(&page)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            clap_mangen::generate_to(command, dir)?;
            println!("man pages written to {}", dir.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every flag and argument has help, so `--help`, completions and the man page explain it.
    #[test]
    fn every_argument_of_every_command_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{path} {} (no about)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut command = Cli::command();
        command.build();
        let mut missing = Vec::new();
        walk(&command, "costguard", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }

    /// The flags that take a word from a fixed list say which words.
    #[test]
    fn flags_with_fixed_values_list_them() {
        let mut command = Cli::command();
        command.build();
        let find = |path: &[&str], arg: &str| -> Vec<String> {
            let mut c = &command;
            for p in path {
                c = c.find_subcommand(p).unwrap();
            }
            let arg = c.get_arguments().find(|a| a.get_id() == arg).unwrap();
            arg.get_possible_values().iter().map(|v| v.get_name().to_string()).collect()
        };
        assert_eq!(find(&["apikey", "create"], "role"), ["viewer", "approver", "admin"]);
        assert_eq!(find(&["user", "create"], "role"), ["viewer", "approver", "admin"]);
        let providers = find(&["ingest"], "provider");
        for p in ["simulated", "aws", "gcp", "azure", "openai", "anthropic"] {
            assert!(providers.contains(&p.to_string()), "{p} in {providers:?}");
        }
        assert!(find(&["actions"], "status").contains(&"pending_approval".to_string()));
        assert_eq!(find(&["anomalies"], "state"), ["open", "resolved"]);
        assert_eq!(find(&["costs"], "granularity"), ["hour", "day", "month"]);
    }

    #[test]
    fn completions_and_the_man_page_cover_the_commands() {
        let mut script = Vec::new();
        clap_complete::generate(clap_complete::Shell::Bash, &mut Cli::command(), "costguard", &mut script);
        let script = String::from_utf8(script).unwrap();
        assert!(script.contains("complete -F") && script.contains("pending_approval"));
        let mut page = Vec::new();
        clap_mangen::Man::new(Cli::command()).render(&mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.starts_with(".ie") || page.contains(".TH costguard"), "{}", &page[..200]);
        assert!(page.contains("anomalies") && page.contains("completions"));
    }
}
