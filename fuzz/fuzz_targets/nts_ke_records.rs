//! Hostile NTS-KE streams: the incremental decoder, fed in chunks whose sizes come from
//! the input, yields exactly the records (and the first error) that parsing the whole
//! stream at once does; every record re-emits to its own bytes; both message readers
//! take whatever comes without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slew_core::nts::ke::{parse_record, Feed, KeError, RecordDecoder};
use slew_core::nts::ke_msg::{RequestReader, ResponseReader};

/// Whole-stream parse: the records' bytes, then the error that stopped it, if any.
fn whole(mut stream: &[u8]) -> (Vec<Vec<u8>>, Option<KeError>) {
    let mut out = Vec::new();
    let mut ended = false;
    while !stream.is_empty() {
        if ended {
            return (out, Some(KeError::AfterEnd));
        }
        match parse_record(stream) {
            Ok((record, rest)) => {
                let len = stream.len() - rest.len();
                let mut buf = vec![0u8; len];
                assert_eq!(record.emit(&mut buf), Ok(len), "re-emit {record:?}");
                assert_eq!(&buf[..], &stream[..len], "re-emitted bytes");
                ended = matches!(record, slew_core::nts::ke::Record::EndOfMessage);
                out.push(buf);
                stream = rest;
            }
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&sizes, stream)) = data.split_first() else {
        return;
    };
    let (expect, expect_err) = whole(stream);

    let mut decoder = RecordDecoder::new();
    let mut requests = RequestReader::new();
    let mut responses = ResponseReader::new();
    let mut got = Vec::new();
    let mut got_err = None;
    let mut pos = 0;
    let mut i = 0u32;
    'outer: while pos < stream.len() {
        // Chunk sizes 1..=16 cycling through the selector's bits.
        let size = 1 + usize::from((sizes.rotate_left(i) ^ i as u8) & 0x0f);
        i += 1;
        let mut chunk = &stream[pos..(pos + size).min(stream.len())];
        pos += chunk.len();
        while !chunk.is_empty() {
            match decoder.feed(chunk) {
                Ok(Feed::NeedMore) => break,
                Ok(Feed::Ready { consumed }) => {
                    let record = decoder.record().expect("a ready record");
                    requests.record(record);
                    let _ = responses.record(record);
                    let mut buf = [0u8; 2048];
                    let n = record.emit(&mut buf).expect("fits");
                    got.push(buf[..n].to_vec());
                    chunk = &chunk[consumed..];
                }
                Err(e) => {
                    requests.malformed();
                    got_err = Some(e);
                    break 'outer;
                }
            }
        }
    }
    assert_eq!(got, expect, "same records");
    match expect_err {
        // The whole parse sees the end of the bytes; the decoder just waits for more.
        Some(KeError::Truncated) => assert_eq!(got_err, None),
        other => assert_eq!(got_err, other),
    }
    let _ = requests.finish();
    let _ = responses.finish();
});
