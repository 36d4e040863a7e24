//! The data directory at rest: the directory is 0700 and every file in it 0600 (the
//! database holds password hashes and tokens' hashes; its WAL and SHM files take the
//! database file's mode, as SQLite's unix VFS creates them).

use std::{fs, io, path::Path};

/// Creates `dir` (0700) if missing; tightens an existing one that others could read.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        let mode = fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            log::info!(
                "data directory {} was readable by others (mode {:o}); set to 0700",
                dir.display(),
                mode & 0o777
            );
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    fs::create_dir_all(dir)
}

/// Creates `file` (0600) if missing, and makes an existing one 0600.
pub fn private_file(file: &Path) -> io::Result<()> {
    private_options().append(true).open(file)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(file, fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Open options that create a file 0600.
pub fn private_options() -> fs::OpenOptions {
    let mut o = fs::OpenOptions::new();
    o.create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}
