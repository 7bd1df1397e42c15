//! Builds the seed corpora from the bundled captures: `seed CAPTURES_DIR CORPUS_DIR`.
//! - capture_file: each capture whole;
//! - decode: each frame (link byte + frame);
//! - engine: each capture's frames in the engine target's format;
//! - reassembly: each client→server direction as a segment sequence;
//! - http: each connection's request and response bytes.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use imdswatch::capture::LinkType;
use imdswatch::capture::file::{ReadStats, read_file};
use imdswatch::decode::decode;
use imdswatch_fuzz::{encode_frames, endpoints, link_to_byte};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (src, dst) = (Path::new(&args[1]), Path::new(&args[2]));
    for t in ["capture_file", "decode", "engine", "reassembly", "http"] {
        fs::create_dir_all(dst.join(t)).expect("corpus dir");
    }
    let mut names: Vec<_> = fs::read_dir(src).expect("captures dir").flatten().map(|e| e.path()).collect();
    names.sort();
    for path in names {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !(name.ends_with(".pcap") || name.ends_with(".pcapng")) {
            continue;
        }
        fs::copy(&path, dst.join("capture_file").join(&name)).expect("copy capture");
        let mut frames: Vec<(LinkType, Vec<u8>)> = Vec::new();
        let mut stats = ReadStats::default();
        let _ = read_file(&path, &mut stats, &mut |p| frames.push((p.link, p.data.to_vec())));
        let endpoints = endpoints();
        let mut c2s: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut reqs: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut resps: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for (i, (link, f)) in frames.iter().enumerate() {
            let mut d = vec![link_to_byte(*link)];
            d.extend_from_slice(f);
            fs::write(dst.join("decode").join(format!("{name}-{i}")), d).expect("write");
            let Ok(seg) = decode(*link, f, &endpoints) else { continue };
            let to_server = endpoints.contains(&seg.dst);
            let client = if to_server { seg.src } else { seg.dst }.to_string();
            if to_server {
                let s = c2s.entry(client.clone()).or_default();
                if s.is_empty() {
                    s.extend(seg.seq.to_le_bytes()); // base
                }
                s.push(0x80 | 0x40 | u8::from(seg.syn));
                s.extend(seg.seq.to_le_bytes());
                s.extend((seg.payload.len() as u16).to_le_bytes());
                s.extend_from_slice(seg.payload);
                reqs.entry(client).or_default().extend_from_slice(seg.payload);
            } else {
                resps.entry(client).or_default().extend_from_slice(seg.payload);
            }
        }
        let refs: Vec<(LinkType, &[u8])> = frames.iter().map(|(l, f)| (*l, f.as_slice())).collect();
        fs::write(dst.join("engine").join(&name), encode_frames(&refs)).expect("write");
        for (i, (client, segs)) in c2s.iter().enumerate() {
            fs::write(dst.join("reassembly").join(format!("{name}-{i}")), segs).expect("write");
            let req = reqs.get(client).map(Vec::as_slice).unwrap_or_default();
            let resp = resps.get(client).map(Vec::as_slice).unwrap_or_default();
            let mut h = vec![2, 0];
            h.extend((req.len().min(65535) as u16).to_le_bytes());
            h.push(1);
            h.extend((resp.len().min(65535) as u16).to_le_bytes());
            h.extend_from_slice(req);
            h.extend_from_slice(resp);
            fs::write(dst.join("http").join(format!("{name}-{i}")), h).expect("write");
        }
    }
}
