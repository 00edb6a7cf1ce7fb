//! A bounded, owned summary of one application message: the first
//! fragment's header plus what every fragment contributed (object headers,
//! control points, internal indications).
//!
//! A response may span many fragments, and the fragments arrive in
//! separate link frames, so a session cannot keep borrowed views until the
//! message is complete. A [`Message`] keeps what an event reports in fixed
//! arrays (no allocation) and counts what did not fit.

use super::app::{AppControl, Fragment, FunctionCode, Iin, ObjectKinds};
use super::link::LinkHeader;
use super::objects::{AnalogOutput, CommandStatus, Crob, ObjectError, Range};

/// Object headers kept per message; more are counted, not kept.
pub const MAX_HEADERS_KEPT: usize = 32;
/// Control points (CROBs and analog output blocks) kept per message.
pub const MAX_CONTROLS_KEPT: usize = 16;

/// An object header without its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderInfo {
    /// Object group.
    pub group: u8,
    /// Object variation.
    pub variation: u8,
    /// Qualifier octet.
    pub qualifier: u8,
    /// Range field.
    pub range: Range,
}

impl HeaderInfo {
    const EMPTY: HeaderInfo = HeaderInfo {
        group: 0,
        variation: 0,
        qualifier: 0,
        range: Range::All,
    };
}

/// A decoded control point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ControlPoint {
    /// Group 12 variation 1.
    Crob(Crob),
    /// Group 41 variations 1 to 4.
    AnalogOutput(AnalogOutput),
}

impl ControlPoint {
    const EMPTY: ControlPoint = ControlPoint::Crob(Crob {
        index: 0,
        code: super::objects::ControlCode(0),
        count: 0,
        on_time: 0,
        off_time: 0,
        status: CommandStatus(0),
    });

    /// The command status of the point.
    pub fn status(&self) -> CommandStatus {
        match self {
            ControlPoint::Crob(c) => c.status,
            ControlPoint::AnalogOutput(a) => a.status,
        }
    }
}

/// One application message (one fragment, or all fragments of a
/// multi-fragment response).
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// The link header of the frame that carried the first segment.
    pub link: LinkHeader,
    /// Link frames (transport segments) that carried the message.
    pub link_frames: u32,
    /// Application control of the first fragment.
    pub control: AppControl,
    /// Application control of the last fragment.
    pub last_control: AppControl,
    /// Function code of the first fragment.
    pub function: FunctionCode,
    /// Internal indications, every bit set in any fragment (responses).
    pub iin: Option<Iin>,
    /// Application fragments.
    pub fragments: u32,
    /// Fragments with the UNS bit set.
    pub uns_fragments: u32,
    /// Fragments whose function differs from the first fragment's.
    pub function_changes: u32,
    headers: [HeaderInfo; MAX_HEADERS_KEPT],
    n_headers: usize,
    /// Object headers read in all fragments (kept or not).
    pub headers_total: u32,
    controls: [ControlPoint; MAX_CONTROLS_KEPT],
    n_controls: usize,
    /// Control points decoded in all fragments (kept or not).
    pub controls_total: u32,
    /// The object groups seen, for [`FunctionCode::operation`].
    pub kinds: ObjectKinds,
    /// The first error of the object walk, if any.
    pub error: Option<ObjectError>,
}

impl Message {
    /// A message from its first fragment, carried by `link_frames` frames
    /// the first of which had header `link`.
    pub fn new(link: LinkHeader, link_frames: u32, frag: &Fragment<'_>) -> Message {
        let mut m = Message {
            link,
            link_frames: 0,
            control: frag.control,
            last_control: frag.control,
            function: frag.function,
            iin: None,
            fragments: 0,
            uns_fragments: 0,
            function_changes: 0,
            headers: [HeaderInfo::EMPTY; MAX_HEADERS_KEPT],
            n_headers: 0,
            headers_total: 0,
            controls: [ControlPoint::EMPTY; MAX_CONTROLS_KEPT],
            n_controls: 0,
            controls_total: 0,
            kinds: ObjectKinds::default(),
            error: None,
        };
        m.absorb(link_frames, frag);
        m
    }

    /// Adds one more fragment; returns the first object error of this
    /// fragment (the walk stops there; earlier headers are kept).
    pub fn absorb(&mut self, link_frames: u32, frag: &Fragment<'_>) -> Option<ObjectError> {
        self.link_frames = self.link_frames.saturating_add(link_frames);
        self.fragments = self.fragments.saturating_add(1);
        self.uns_fragments += u32::from(frag.control.uns());
        if frag.function != self.function {
            self.function_changes += 1;
        }
        self.last_control = frag.control;
        if let Some(i) = frag.iin {
            self.iin = Some(Iin(self.iin.map_or(0, |x| x.0) | i.0));
        }
        let mut first_error = None;
        for h in frag.headers() {
            let h = match h {
                Ok(h) => h,
                Err(e) => {
                    first_error = Some(e);
                    break;
                }
            };
            self.headers_total = self.headers_total.saturating_add(1);
            self.kinds.add(h.group);
            if let Some(slot) = self.headers.get_mut(self.n_headers) {
                *slot = HeaderInfo {
                    group: h.group,
                    variation: h.variation,
                    qualifier: h.qualifier.0,
                    range: h.range,
                };
                self.n_headers += 1;
            }
            let decode: fn(u32, u8, &[u8]) -> Option<ControlPoint> = match (h.group, h.variation) {
                (12, 1) => |i, _, b| Crob::parse(i, b).map(ControlPoint::Crob),
                (41, 1..=4) => {
                    |i, v, b| AnalogOutput::parse(i, v, b).map(ControlPoint::AnalogOutput)
                }
                _ => continue,
            };
            for (index, b) in h.objects() {
                let Some(p) = decode(index, h.variation, b) else {
                    break;
                };
                self.controls_total = self.controls_total.saturating_add(1);
                if let Some(slot) = self.controls.get_mut(self.n_controls) {
                    *slot = p;
                    self.n_controls += 1;
                }
            }
        }
        if self.error.is_none() {
            self.error = first_error;
        }
        first_error
    }

    /// The object headers kept (at most [`MAX_HEADERS_KEPT`]).
    pub fn headers(&self) -> &[HeaderInfo] {
        &self.headers[..self.n_headers]
    }

    /// The control points kept (at most [`MAX_CONTROLS_KEPT`]).
    pub fn controls(&self) -> &[ControlPoint] {
        &self.controls[..self.n_controls]
    }

    /// The first control point whose status is not `success`, if any
    /// (a response's verdict on a command).
    pub fn rejected_control(&self) -> Option<CommandStatus> {
        self.controls()
            .iter()
            .map(ControlPoint::status)
            .find(|s| s.0 != 0)
    }
}

/// The application confirms a master sent for the fragments of one
/// message: the last one's link header and control, and how many came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Confirms {
    /// Link header of the frame of the last confirm.
    pub link: LinkHeader,
    /// Application control of the last confirm.
    pub control: AppControl,
    /// Confirms received.
    pub count: u32,
    /// Confirms with the UNS bit set.
    pub uns_count: u32,
}
