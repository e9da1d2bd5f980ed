//! Files only Parley's own user may read: the data directory and its recordings
//! directory are 0700; the SQLite database, recordings and generated secrets are 0600.
//! New ones are created so; ones left by older versions are tightened at start-up.
//! Unix only: elsewhere these are the plain calls, and nothing is tightened.
use std::io;
use std::path::{Path, PathBuf};

pub const DIR_MODE: u32 = 0o700;
pub const FILE_MODE: u32 = 0o600;
/// Names of the files Parley keeps directly in its data directory.
const DATA_FILES: [&str; 4] = [
    "parley.db",
    "parley.db-wal",
    "parley.db-shm",
    crate::sandbox_secrets::FILE_NAME,
];
pub const RECORDINGS_DIR: &str = "recordings";

/// Creates `dir` and any missing parents, as 0700.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)
}

/// [`create_private_dir`] for async code.
pub async fn create_private_dir_async(dir: &Path) -> io::Result<()> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder.create(dir).await
}

/// Creates `path` as 0600 (failing if it exists) and writes `bytes` to it.
pub fn create_private_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Writes `bytes` to `path` (replacing it), as 0600.
pub async fn write_private_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    let mut file = options.open(path).await?;
    file.write_all(bytes).await?;
    file.flush().await
}

/// One permission change made by [`secure_data_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tightened {
    pub path: PathBuf,
    pub from: u32,
    pub to: u32,
}

/// Creates the data directory (0700) if missing and tightens what Parley keeps in it:
/// the directory itself, the SQLite files, the generated secrets, the recordings
/// directory and the recordings. Only those paths are touched, so a data directory
/// shared with other files loses nothing; symbolic links are left alone, and so is a
/// sticky directory such as `/tmp` (tightening it would lock other users out).
pub fn secure_data_dir(data_dir: &Path) -> io::Result<Vec<Tightened>> {
    create_private_dir(data_dir)?;
    let mut changed = Vec::new();
    tighten(data_dir, DIR_MODE, &mut changed)?;
    for name in DATA_FILES {
        tighten(&data_dir.join(name), FILE_MODE, &mut changed)?;
    }
    let recordings = data_dir.join(RECORDINGS_DIR);
    tighten(&recordings, DIR_MODE, &mut changed)?;
    if let Ok(entries) = std::fs::read_dir(&recordings) {
        for entry in entries {
            tighten(&entry?.path(), FILE_MODE, &mut changed)?;
        }
    }
    Ok(changed)
}

/// Runs [`secure_data_dir`] and logs what it changed (recordings as one count).
pub fn secure_data_dir_logged(data_dir: &Path) -> io::Result<()> {
    let changed = secure_data_dir(data_dir)?;
    let recordings = data_dir.join(RECORDINGS_DIR);
    let mut recording_files = 0;
    for change in &changed {
        if change.path.parent() == Some(recordings.as_path()) {
            recording_files += 1;
            continue;
        }
        tracing::info!(
            path = %change.path.display(),
            from = format!("{:o}", change.from),
            to = format!("{:o}", change.to),
            "tightened permissions: only parley's user may read this"
        );
    }
    if recording_files > 0 {
        tracing::info!(
            files = recording_files,
            to = format!("{FILE_MODE:o}"),
            "tightened the permissions of recordings"
        );
    }
    Ok(())
}

#[cfg(unix)]
fn tighten(path: &Path, mode: u32, changed: &mut Vec<Tightened>) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let file_type = meta.file_type();
    let expected = if mode == DIR_MODE {
        file_type.is_dir()
    } else {
        file_type.is_file()
    };
    let current = meta.permissions().mode() & 0o7777;
    const STICKY: u32 = 0o1000;
    if !expected || current & STICKY != 0 || current & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    changed.push(Tightened {
        path: path.to_path_buf(),
        from: current,
        to: mode,
    });
    Ok(())
}

#[cfg(not(unix))]
fn tighten(_path: &Path, _mode: u32, _changed: &mut Vec<Tightened>) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_new_data_directory_is_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b/parley-data");
        assert!(secure_data_dir(&dir).unwrap().is_empty());
        assert_eq!(mode(&dir), 0o700);
        let secret = dir.join("secret");
        create_private_file(&secret, b"x").unwrap();
        assert_eq!(mode(&secret), 0o600);
        assert!(
            create_private_file(&secret, b"y").is_err(),
            "never overwritten"
        );
    }

    #[test]
    fn existing_files_are_tightened_and_reported() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        set_mode(&dir, 0o755);
        let db = dir.join("parley.db");
        std::fs::write(&db, b"db").unwrap();
        set_mode(&db, 0o644);
        let recordings = dir.join(RECORDINGS_DIR);
        std::fs::create_dir(&recordings).unwrap();
        set_mode(&recordings, 0o755);
        let wav = recordings.join("1-RE1.wav");
        std::fs::write(&wav, b"RIFF").unwrap();
        set_mode(&wav, 0o644);
        // Not Parley's: left as it is.
        let other = dir.join("notes.txt");
        std::fs::write(&other, b"mine").unwrap();
        set_mode(&other, 0o644);
        let outside = root.path().join("elsewhere.db");
        std::fs::write(&outside, b"x").unwrap();
        set_mode(&outside, 0o644);
        std::os::unix::fs::symlink(&outside, dir.join("parley.db-wal")).unwrap();

        let changed = secure_data_dir(&dir).unwrap();
        let paths: Vec<&Path> = changed.iter().map(|c| c.path.as_path()).collect();
        assert_eq!(paths, [dir.as_path(), &db, &recordings, &wav]);
        assert_eq!((changed[1].from, changed[1].to), (0o644, 0o600));
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&recordings), 0o700);
        assert_eq!(mode(&wav), 0o600);
        assert_eq!(mode(&other), 0o644);
        assert_eq!(mode(&outside), 0o644, "links are not followed");
        assert!(
            secure_data_dir(&dir).unwrap().is_empty(),
            "nothing left to do"
        );
    }

    #[test]
    fn sticky_directories_are_not_locked() {
        let root = tempfile::tempdir().unwrap();
        set_mode(root.path(), 0o1777);
        assert!(secure_data_dir(root.path()).unwrap().is_empty());
        assert_eq!(mode(root.path()), 0o777);
    }

    #[tokio::test]
    async fn recordings_are_written_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("recordings");
        create_private_dir_async(&dir).await.unwrap();
        let file = dir.join("1.wav");
        write_private_file(&file, b"RIFF").await.unwrap();
        assert_eq!((mode(&dir), mode(&file)), (0o700, 0o600));
        assert_eq!(std::fs::read(&file).unwrap(), b"RIFF");
    }
}
