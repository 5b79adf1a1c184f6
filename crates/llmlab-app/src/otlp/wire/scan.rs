//! Counting a protobuf export's elements without decoding it: the body is walked once,
//! length-delimited field by field, and only the fields that become elements of
//! [`ExportRequest`](super::ExportRequest) are counted.

use super::{Counts, Refused};

/// The wire types of protobuf's encoding.
const VARINT: u64 = 0;
const I64: u64 = 1;
const LEN: u64 = 2;
const I32: u64 = 5;

/// Calls `field(tag, body)` for each length-delimited field of the message in `buf`,
/// skipping the others; a truncated or unreadable message is malformed.
fn fields(
    mut buf: &[u8],
    mut field: impl FnMut(u64, &[u8]) -> Result<(), Refused>,
) -> Result<(), Refused> {
    let malformed = || Refused::Malformed("truncated or invalid protobuf".into());
    while !buf.is_empty() {
        let key = varint(&mut buf).ok_or_else(malformed)?;
        let (tag, wire) = (key >> 3, key & 7);
        let skip = match wire {
            VARINT => {
                varint(&mut buf).ok_or_else(malformed)?;
                0
            }
            I64 => 8,
            I32 => 4,
            LEN => {
                let len = varint(&mut buf).ok_or_else(malformed)?;
                let len = usize::try_from(len).map_err(|_| malformed())?;
                let body = buf.get(..len).ok_or_else(malformed)?;
                field(tag, body)?;
                len
            }
            // Groups (deprecated) and unknown wire types: nothing OTLP sends.
            _ => return Err(malformed()),
        };
        buf = buf.get(skip..).ok_or_else(malformed)?;
    }
    Ok(())
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

pub(super) fn scan_request(buf: &[u8], n: &mut Counts) -> Result<(), Refused> {
    fields(buf, |tag, body| match tag {
        1 => {
            n.scopes += 1;
            n.check()?;
            scan_resource_spans(body, n)
        }
        _ => Ok(()),
    })
}

fn scan_resource_spans(buf: &[u8], n: &mut Counts) -> Result<(), Refused> {
    fields(buf, |tag, body| match tag {
        // Resource.attributes = 1.
        1 => fields(body, |tag, _| count_attribute(tag, 1, n)),
        2 => {
            n.scopes += 1;
            n.check()?;
            // ScopeSpans.spans = 2.
            fields(body, |tag, span| match tag {
                2 => {
                    n.spans += 1;
                    n.check()?;
                    // Span.attributes = 9.
                    fields(span, |tag, _| count_attribute(tag, 9, n))
                }
                _ => Ok(()),
            })
        }
        _ => Ok(()),
    })
}

fn count_attribute(tag: u64, attributes: u64, n: &mut Counts) -> Result<(), Refused> {
    if tag == attributes {
        n.attributes += 1;
        n.check()?;
    }
    Ok(())
}
