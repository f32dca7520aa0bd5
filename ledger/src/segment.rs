//! Segment files: where the entry records live, outside sled.
//!
//! A ledger's blocks (`block.rs`: the FORMAT.md preimage of each record and
//! its hash) are appended to files `DIR/segments/NNNNNNNN.seg`, each up to
//! `SEGMENT_BYTES_MAX`, one frame per block:
//!
//! | bytes | field |
//! | --- | --- |
//! | 4 | payload length (u32 BE) |
//! | 4 | CRC-32 (IEEE) of the payload (u32 BE) |
//! | length | the block (`block.rs`) |
//!
//! A segment is only ever appended to. sled holds where each block is
//! (`Location`) and how far each segment is committed (`store.rs`); bytes
//! past the committed end are an append that never reached the index (a
//! torn or uncommitted write) and are cut off when the ledger opens
//! (`Segments::recover`). The order that makes this safe (data durable
//! before the index, the index before the acknowledgement) is
//! docs/SAFETY.md's.
//!
//! All file access goes through `SegmentFs` and `SegmentFile`, so that a test
//! can record the order of the writes and syncs (`tests/segment_order.rs`).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

/// A segment is closed and the next one started once it reaches this size.
pub const SEGMENT_BYTES_MAX: u64 = 128 << 20;

/// The frame before each block: length and CRC-32.
pub const FRAME_HEADER_LEN: usize = 8;

/// The directory of the segment files in a ledger directory.
pub const SEGMENTS_DIR: &str = "segments";

/// Where a block is: its segment, the offset of its frame, and the
/// payload's length. Stored in sled as 16 bytes (`encode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub segment: u32,
    pub offset: u64,
    pub len: u32,
}

/// Bytes of an encoded `Location`.
pub const LOCATION_LEN: usize = 16;

impl Location {
    pub fn encode(&self) -> [u8; LOCATION_LEN] {
        let mut out = [0u8; LOCATION_LEN];
        out[..4].copy_from_slice(&self.segment.to_be_bytes());
        out[4..12].copy_from_slice(&self.offset.to_be_bytes());
        out[12..].copy_from_slice(&self.len.to_be_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Location> {
        if bytes.len() != LOCATION_LEN {
            return None;
        }
        Some(Location {
            segment: u32::from_be_bytes(bytes[..4].try_into().ok()?),
            offset: u64::from_be_bytes(bytes[4..12].try_into().ok()?),
            len: u32::from_be_bytes(bytes[12..].try_into().ok()?),
        })
    }

    /// The offset just past the frame.
    pub fn end(&self) -> u64 {
        self.offset + FRAME_HEADER_LEN as u64 + u64::from(self.len)
    }
}

/// One step of the write path, as `SegmentFs::note` hears it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Bytes written to a segment (segment, offset, length).
    Write(u32, u64, usize),
    /// A segment's data made durable (`fdatasync`).
    SyncData(u32),
    /// The segments directory made durable (after a segment was created).
    SyncDir,
    /// A segment cut back to its committed end (segment, new length).
    Truncate(u32, u64),
    /// The index entries of an append handed to sled.
    IndexApplied,
    /// sled flushed: the index durable.
    IndexFlushed,
}

/// An open segment file.
pub trait SegmentFile: Send + Sync {
    fn write_all_at(&self, bytes: &[u8], offset: u64) -> io::Result<()>;
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    fn sync_data(&self) -> io::Result<()>;
    /// The file's size in bytes.
    fn size(&self) -> io::Result<u64>;
    fn set_len(&self, len: u64) -> io::Result<()>;
}

/// How segment files are opened and synced; `OsFs` is the real one. A test
/// wraps it to record the order of the steps (`note`).
pub trait SegmentFs: Send + Sync {
    /// Opens (creating it when `create`) a segment file for reading and
    /// writing.
    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn SegmentFile>>;
    /// fsyncs a directory, so a file created in it survives a power loss.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Hears each step of the write path, in the order they happen.
    fn note(&self, _step: Step) {}
}

/// The operating system's files.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsFs;

struct OsFile(std::fs::File);

impl SegmentFile for OsFile {
    fn write_all_at(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(&self.0, bytes, offset)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.0, buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
}

impl SegmentFs for OsFs {
    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn SegmentFile>> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)?;
        Ok(Box::new(OsFile(file)))
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::File::open(dir)?.sync_all()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("segment I/O on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "the index points past the end of segment {segment} ({path}): it is committed to \
         {committed} bytes but holds {found}"
    )]
    ShortSegment {
        segment: u32,
        path: PathBuf,
        committed: u64,
        found: u64,
    },
    #[error("block at segment {segment} offset {offset}: {detail}")]
    BadFrame {
        segment: u32,
        offset: u64,
        detail: String,
    },
}

/// What `append` wrote: each block's location, and the new end of each
/// segment written (segment, end).
pub type Appended = (Vec<Location>, Vec<(u32, u64)>);

/// What `recover` cut off: (segment, its length found, its committed end).
pub type Cut = (u32, u64, u64);

/// The segment being appended to.
struct Active {
    number: u32,
    file: Option<Arc<dyn SegmentFile>>,
    len: u64,
}

/// A ledger's segment files.
pub struct Segments {
    dir: PathBuf,
    fs: Arc<dyn SegmentFs>,
    active: Mutex<Active>,
    open: RwLock<HashMap<u32, Arc<dyn SegmentFile>>>,
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> SegmentError + '_ {
    move |source| SegmentError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The file name of segment `number`.
pub fn file_name(number: u32) -> String {
    format!("{number:08}.seg")
}

impl Segments {
    /// Opens the segments of the ledger directory `ledger_dir` and cuts each
    /// back to its committed end (`committed`: segment → end, from the
    /// index). Returns what it cut, or `ShortSegment` for the first segment
    /// shorter than the index says (corruption; the caller names the
    /// position).
    pub fn recover(
        ledger_dir: &Path,
        fs: Arc<dyn SegmentFs>,
        committed: &BTreeMap<u32, u64>,
    ) -> Result<(Segments, Vec<Cut>), SegmentError> {
        let dir = ledger_dir.join(SEGMENTS_DIR);
        let mut found: BTreeMap<u32, PathBuf> = BTreeMap::new();
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry.map_err(io_error(&dir))?;
                    let name = entry.file_name();
                    let number = name
                        .to_str()
                        .and_then(|n| n.strip_suffix(".seg"))
                        .and_then(|n| n.parse::<u32>().ok());
                    if let Some(number) = number {
                        found.insert(number, entry.path());
                    }
                }
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_error(&dir)(error)),
        }
        for (&segment, &end) in committed {
            if end > 0 && !found.contains_key(&segment) {
                return Err(SegmentError::ShortSegment {
                    segment,
                    path: dir.join(file_name(segment)),
                    committed: end,
                    found: 0,
                });
            }
        }
        let mut cuts = Vec::new();
        let mut open = HashMap::new();
        for (&number, path) in &found {
            let file: Arc<dyn SegmentFile> =
                Arc::from(fs.open(path, false).map_err(io_error(path))?);
            let len = file.size().map_err(io_error(path))?;
            let end = committed.get(&number).copied().unwrap_or(0);
            if len < end {
                return Err(SegmentError::ShortSegment {
                    segment: number,
                    path: path.clone(),
                    committed: end,
                    found: len,
                });
            }
            if len > end {
                fs.note(Step::Truncate(number, end));
                file.set_len(end).map_err(io_error(path))?;
                file.sync_data().map_err(io_error(path))?;
                cuts.push((number, len, end));
            }
            open.insert(number, file);
        }
        let last = found.keys().next_back().copied();
        let newest_committed = committed.keys().next_back().copied();
        let number = last.max(newest_committed).unwrap_or(0);
        let active = Active {
            number,
            len: committed.get(&number).copied().unwrap_or(0),
            file: open.get(&number).cloned(),
        };
        Ok((
            Segments {
                dir,
                fs,
                active: Mutex::new(active),
                open: RwLock::new(open),
            },
            cuts,
        ))
    }

    /// Appends blocks as frames, then makes them durable (`fdatasync` of
    /// every segment written). Returns each block's location and the new
    /// end of each segment written, for the index. Nothing of it is
    /// committed until the index says so.
    pub fn append(&self, blocks: &[&[u8]]) -> Result<Appended, SegmentError> {
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let mut locations = Vec::with_capacity(blocks.len());
        let mut ends: Vec<(u32, u64)> = Vec::new();
        let mut buffer: Vec<u8> = Vec::new();
        let mut buffer_at = active.len;
        for block in blocks {
            let frame = FRAME_HEADER_LEN as u64 + block.len() as u64;
            let len = u32::try_from(block.len()).map_err(|_| SegmentError::BadFrame {
                segment: active.number,
                offset: active.len,
                detail: format!("a block of {} bytes is too large", block.len()),
            })?;
            if active.len > 0 && active.len + frame > SEGMENT_BYTES_MAX {
                self.write_out(&mut active, &buffer, buffer_at)?;
                self.sync(&active)?;
                buffer.clear();
                active.number += 1;
                active.len = 0;
                active.file = None;
                buffer_at = 0;
            }
            if active.file.is_none() {
                self.start(&mut active)?;
            }
            locations.push(Location {
                segment: active.number,
                offset: active.len,
                len,
            });
            buffer.extend_from_slice(&len.to_be_bytes());
            buffer.extend_from_slice(&crc32fast::hash(block).to_be_bytes());
            buffer.extend_from_slice(block);
            active.len += frame;
            match ends.last_mut() {
                Some((segment, end)) if *segment == active.number => *end = active.len,
                _ => ends.push((active.number, active.len)),
            }
        }
        if !buffer.is_empty() {
            self.write_out(&mut active, &buffer, buffer_at)?;
            self.sync(&active)?;
        }
        Ok((locations, ends))
    }

    /// Creates (or opens) the active segment's file.
    fn start(&self, active: &mut Active) -> Result<(), SegmentError> {
        std::fs::create_dir_all(&self.dir).map_err(io_error(&self.dir))?;
        let path = self.dir.join(file_name(active.number));
        let file: Arc<dyn SegmentFile> =
            Arc::from(self.fs.open(&path, true).map_err(io_error(&path))?);
        // Whatever an earlier, uncommitted append left there goes.
        file.set_len(active.len).map_err(io_error(&path))?;
        self.fs.sync_dir(&self.dir).map_err(io_error(&self.dir))?;
        self.fs.note(Step::SyncDir);
        self.open
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(active.number, file.clone());
        active.file = Some(file);
        Ok(())
    }

    fn write_out(&self, active: &mut Active, bytes: &[u8], at: u64) -> Result<(), SegmentError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let path = self.dir.join(file_name(active.number));
        let Some(file) = &active.file else {
            return Err(SegmentError::BadFrame {
                segment: active.number,
                offset: at,
                detail: "no open segment to write to".into(),
            });
        };
        self.fs.note(Step::Write(active.number, at, bytes.len()));
        file.write_all_at(bytes, at).map_err(io_error(&path))
    }

    fn sync(&self, active: &Active) -> Result<(), SegmentError> {
        if let Some(file) = &active.file {
            let path = self.dir.join(file_name(active.number));
            file.sync_data().map_err(io_error(&path))?;
            self.fs.note(Step::SyncData(active.number));
        }
        Ok(())
    }

    /// Where the next append will write: (segment, offset).
    pub fn tail(&self) -> (u32, u64) {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        (active.number, active.len)
    }

    fn file(&self, segment: u32) -> Result<Arc<dyn SegmentFile>, SegmentError> {
        if let Some(file) = self
            .open
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&segment)
        {
            return Ok(file.clone());
        }
        let path = self.dir.join(file_name(segment));
        let file: Arc<dyn SegmentFile> =
            Arc::from(self.fs.open(&path, false).map_err(io_error(&path))?);
        self.open
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(segment, file.clone());
        Ok(file)
    }

    /// Reads the block at `location`, checking its frame (length and
    /// CRC-32). A frame past the segment's end is `ShortSegment`.
    ///
    /// The header and the payload are read separately, the payload straight
    /// into the buffer that is returned: one more `pread` per block (a few
    /// hundred entries) instead of copying every payload out of a buffer
    /// that held its header too.
    pub fn read(&self, location: Location) -> Result<Vec<u8>, SegmentError> {
        let file = self.file(location.segment)?;
        let path = self.dir.join(file_name(location.segment));
        let short = |error: io::Error| -> SegmentError {
            if error.kind() != io::ErrorKind::UnexpectedEof {
                return io_error(&path)(error);
            }
            match file.size() {
                Ok(found) => SegmentError::ShortSegment {
                    segment: location.segment,
                    path: path.clone(),
                    committed: location.end(),
                    found,
                },
                Err(error) => io_error(&path)(error),
            }
        };
        // Both reads come before any check of the frame, so that a frame
        // cut short is `ShortSegment` whatever its header says.
        let mut header = [0u8; FRAME_HEADER_LEN];
        file.read_exact_at(&mut header, location.offset)
            .map_err(short)?;
        let mut payload = vec![0u8; location.len as usize];
        file.read_exact_at(&mut payload, location.offset + FRAME_HEADER_LEN as u64)
            .map_err(short)?;
        let bad = |detail: String| SegmentError::BadFrame {
            segment: location.segment,
            offset: location.offset,
            detail,
        };
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        if len != location.len {
            return Err(bad(format!(
                "the frame says {len} bytes, the index {}",
                location.len
            )));
        }
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        if crc32fast::hash(&payload) != crc {
            return Err(bad("its CRC-32 does not match its bytes".into()));
        }
        Ok(payload)
    }

    /// The path of segment `number`.
    pub fn path(&self, number: u32) -> PathBuf {
        self.dir.join(file_name(number))
    }
}
