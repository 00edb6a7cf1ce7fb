//! Connection Manager services (CIP Vol. 1 §3-5.5): Forward_Open,
//! Large_Forward_Open, Forward_Close and Unconnected_Send.

use super::epath::Epath;
use crate::cursor::Cursor;

/// A Forward_Open or Large_Forward_Open request (Vol. 1 §3-5.5.2, §3-5.5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForwardOpen<'a> {
    /// Large_Forward_Open: 32-bit network connection parameters.
    pub large: bool,
    /// Priority and tick time (bits 0-3: tick time, bit 4: high priority).
    pub priority_time_tick: u8,
    /// Timeout of the unconnected request, in ticks.
    pub timeout_ticks: u8,
    /// O->T network connection id proposed by the originator (the target
    /// usually chooses its own; see the reply).
    pub o_t_connection_id: u32,
    /// T->O network connection id chosen by the originator.
    pub t_o_connection_id: u32,
    /// Connection serial number.
    pub connection_serial: u16,
    /// Originator vendor id.
    pub originator_vendor_id: u16,
    /// Originator serial number.
    pub originator_serial: u32,
    /// Connection timeout multiplier (x4, x8, ... x512).
    pub timeout_multiplier: u8,
    /// Requested packet interval O->T, microseconds.
    pub o_t_rpi: u32,
    /// O->T network connection parameters.
    pub o_t_parameters: u32,
    /// Requested packet interval T->O, microseconds.
    pub t_o_rpi: u32,
    /// T->O network connection parameters.
    pub t_o_parameters: u32,
    /// Transport class and trigger (bits 0-3: class 0-3).
    pub transport_class_trigger: u8,
    /// Path of the application object the connection reaches.
    pub connection_path: Epath<'a>,
}

impl<'a> ForwardOpen<'a> {
    /// Parses the request data.
    pub fn parse(data: &'a [u8], large: bool) -> Option<ForwardOpen<'a>> {
        let mut c = Cursor::new(data);
        let priority_time_tick = c.u8()?;
        let timeout_ticks = c.u8()?;
        let o_t_connection_id = c.u32_le()?;
        let t_o_connection_id = c.u32_le()?;
        let connection_serial = c.u16_le()?;
        let originator_vendor_id = c.u16_le()?;
        let originator_serial = c.u32_le()?;
        let timeout_multiplier = c.u8()?;
        c.bytes(3)?;
        let o_t_rpi = c.u32_le()?;
        let o_t_parameters = params(&mut c, large)?;
        let t_o_rpi = c.u32_le()?;
        let t_o_parameters = params(&mut c, large)?;
        let transport_class_trigger = c.u8()?;
        let words = c.u8()?;
        let connection_path = Epath::new(c.bytes(usize::from(words) * 2)?);
        Some(ForwardOpen {
            large,
            priority_time_tick,
            timeout_ticks,
            o_t_connection_id,
            t_o_connection_id,
            connection_serial,
            originator_vendor_id,
            originator_serial,
            timeout_multiplier,
            o_t_rpi,
            o_t_parameters,
            t_o_rpi,
            t_o_parameters,
            transport_class_trigger,
            connection_path,
        })
    }

    /// The transport class (0-3): 0/1 implicit I/O, 3 explicit messaging.
    pub fn transport_class(&self) -> u8 {
        self.transport_class_trigger & 0x0f
    }
}

fn params(c: &mut Cursor<'_>, large: bool) -> Option<u32> {
    if large {
        c.u32_le()
    } else {
        c.u16_le().map(u32::from)
    }
}

/// A successful Forward_Open reply (Vol. 1 §3-5.5.2, Table 3-5.17).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForwardOpenReply<'a> {
    /// O->T network connection id (chosen by the target).
    pub o_t_connection_id: u32,
    /// T->O network connection id.
    pub t_o_connection_id: u32,
    /// Connection serial number (echo).
    pub connection_serial: u16,
    /// Originator vendor id (echo).
    pub originator_vendor_id: u16,
    /// Originator serial number (echo).
    pub originator_serial: u32,
    /// Actual packet interval O->T, microseconds.
    pub o_t_api: u32,
    /// Actual packet interval T->O, microseconds.
    pub t_o_api: u32,
    /// Application reply.
    pub application_reply: &'a [u8],
}

impl<'a> ForwardOpenReply<'a> {
    /// Parses the reply data.
    pub fn parse(data: &'a [u8]) -> Option<ForwardOpenReply<'a>> {
        let mut c = Cursor::new(data);
        let o_t_connection_id = c.u32_le()?;
        let t_o_connection_id = c.u32_le()?;
        let connection_serial = c.u16_le()?;
        let originator_vendor_id = c.u16_le()?;
        let originator_serial = c.u32_le()?;
        let o_t_api = c.u32_le()?;
        let t_o_api = c.u32_le()?;
        let words = c.u8()?;
        c.u8()?;
        let application_reply = c.bytes(usize::from(words) * 2)?;
        Some(ForwardOpenReply {
            o_t_connection_id,
            t_o_connection_id,
            connection_serial,
            originator_vendor_id,
            originator_serial,
            o_t_api,
            t_o_api,
            application_reply,
        })
    }
}

/// The reply data of a failed Forward_Open or Forward_Close and of a
/// routing error (Vol. 1 §3-5.5.2, Table 3-5.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionFailure {
    /// Connection serial number (echo).
    pub connection_serial: u16,
    /// Originator vendor id (echo).
    pub originator_vendor_id: u16,
    /// Originator serial number (echo).
    pub originator_serial: u32,
    /// Words of the connection path not consumed where routing failed.
    pub remaining_path_size: Option<u8>,
}

impl ConnectionFailure {
    /// Parses the reply data.
    pub fn parse(data: &[u8]) -> Option<ConnectionFailure> {
        let mut c = Cursor::new(data);
        Some(ConnectionFailure {
            connection_serial: c.u16_le()?,
            originator_vendor_id: c.u16_le()?,
            originator_serial: c.u32_le()?,
            remaining_path_size: c.u8(),
        })
    }
}

/// A Forward_Close request (Vol. 1 §3-5.5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForwardClose<'a> {
    /// Priority and tick time.
    pub priority_time_tick: u8,
    /// Timeout, in ticks.
    pub timeout_ticks: u8,
    /// Connection serial number of the connection to close.
    pub connection_serial: u16,
    /// Originator vendor id.
    pub originator_vendor_id: u16,
    /// Originator serial number.
    pub originator_serial: u32,
    /// Connection path.
    pub connection_path: Epath<'a>,
}

impl<'a> ForwardClose<'a> {
    /// Parses the request data.
    pub fn parse(data: &'a [u8]) -> Option<ForwardClose<'a>> {
        let mut c = Cursor::new(data);
        let priority_time_tick = c.u8()?;
        let timeout_ticks = c.u8()?;
        let connection_serial = c.u16_le()?;
        let originator_vendor_id = c.u16_le()?;
        let originator_serial = c.u32_le()?;
        let words = c.u8()?;
        c.u8()?;
        let connection_path = Epath::new(c.bytes(usize::from(words) * 2)?);
        Some(ForwardClose {
            priority_time_tick,
            timeout_ticks,
            connection_serial,
            originator_vendor_id,
            originator_serial,
            connection_path,
        })
    }
}

/// A successful Forward_Close reply (Vol. 1 §3-5.5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForwardCloseReply {
    /// Connection serial number (echo).
    pub connection_serial: u16,
    /// Originator vendor id (echo).
    pub originator_vendor_id: u16,
    /// Originator serial number (echo).
    pub originator_serial: u32,
}

impl ForwardCloseReply {
    /// Parses the reply data.
    pub fn parse(data: &[u8]) -> Option<ForwardCloseReply> {
        let mut c = Cursor::new(data);
        Some(ForwardCloseReply {
            connection_serial: c.u16_le()?,
            originator_vendor_id: c.u16_le()?,
            originator_serial: c.u32_le()?,
        })
    }
}

/// An Unconnected_Send request (Vol. 1 §3-5.5.6): a request for another
/// device, and the route to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnconnectedSend<'a> {
    /// Priority and tick time.
    pub priority_time_tick: u8,
    /// Timeout, in ticks.
    pub timeout_ticks: u8,
    /// The embedded Message Router request.
    pub message: &'a [u8],
    /// Route path (port segments) to the target.
    pub route_path: Epath<'a>,
}

impl<'a> UnconnectedSend<'a> {
    /// Parses the request data.
    pub fn parse(data: &'a [u8]) -> Option<UnconnectedSend<'a>> {
        let mut c = Cursor::new(data);
        let priority_time_tick = c.u8()?;
        let timeout_ticks = c.u8()?;
        let size = c.u16_le()?;
        let message = c.bytes(usize::from(size))?;
        if size % 2 == 1 {
            c.u8()?;
        }
        // Some originators end the message without a route (a local
        // target): keep the embedded request.
        let route_path = match (c.u8(), c.u8()) {
            (Some(words), Some(_reserved)) => {
                Epath::new(c.bytes(usize::from(words) * 2).unwrap_or(c.rest()))
            }
            _ => Epath::default(),
        };
        Some(UnconnectedSend {
            priority_time_tick,
            timeout_ticks,
            message,
            route_path,
        })
    }
}
