#![no_main]
//! The event stream as it arrives: raw `text/event-stream` bytes cut into chunks at
//! fuzzer-chosen points, through the client's own decoder (framing + event JSON).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte chooses how many cuts; the next ones where.
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = (n % 8) as usize;
    let (cuts, body) = rest.split_at(n.min(rest.len()));
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|c| *c as usize * body.len() / 256)
        .collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut last = 0;
    for p in points {
        chunks.push(&body[last..p]);
        last = p;
    }
    chunks.push(&body[last..]);
    let _ = vouch_core::sse::decode_chunks(&chunks);
});
