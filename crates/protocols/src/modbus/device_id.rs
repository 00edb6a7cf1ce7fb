//! Read Device Identification, MEI type 14 (AP §6.21).

use crate::cursor::Cursor;

/// A device identification object id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ObjectId(pub u8);

impl ObjectId {
    /// snake_case name: the basic (0-2) and regular (3-6) objects; others are
    /// `reserved` (7-0x7F) or `private` (0x80-0xFF, extended category).
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "vendor_name",
            1 => "product_code",
            2 => "major_minor_revision",
            3 => "vendor_url",
            4 => "product_name",
            5 => "model_name",
            6 => "user_application_name",
            0x07..=0x7f => "reserved",
            _ => "private",
        }
    }
}

/// The body of a Read Device Identification response, after the MEI type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceId<'a> {
    /// 1 basic, 2 regular, 3 extended, 4 one specific object.
    pub read_code: u8,
    /// Identification level the device supports (0x01-0x03, 0x81-0x83 with individual access).
    pub conformity_level: u8,
    /// 0xFF when another transaction is needed for the rest.
    pub more_follows: u8,
    /// Where the next transaction should start.
    pub next_object_id: u8,
    /// Number of objects announced.
    pub number_of_objects: u8,
    /// The object list, parsed lazily by [`DeviceId::objects`].
    pub object_bytes: &'a [u8],
}

impl<'a> DeviceId<'a> {
    /// Parses the bytes after the MEI type byte. `None` when the fixed part is short.
    pub fn parse(b: &'a [u8]) -> Option<DeviceId<'a>> {
        let mut c = Cursor::new(b);
        Some(DeviceId {
            read_code: c.u8()?,
            conformity_level: c.u8()?,
            more_follows: c.u8()?,
            next_object_id: c.u8()?,
            number_of_objects: c.u8()?,
            object_bytes: c.take_rest(),
        })
    }

    /// The objects, in order; stops at the announced count or at a truncated object.
    pub fn objects(&self) -> DeviceObjects<'a> {
        DeviceObjects {
            c: Cursor::new(self.object_bytes),
            left: self.number_of_objects,
        }
    }

    /// True when the object list is consistent with the announced count and length.
    pub fn is_well_formed(&self) -> bool {
        let mut it = self.objects();
        let mut n = 0u8;
        while it.next().is_some() {
            n += 1;
        }
        n == self.number_of_objects && it.c.remaining() == 0
    }
}

/// Iterator over (object id, value) pairs.
#[derive(Clone, Debug)]
pub struct DeviceObjects<'a> {
    c: Cursor<'a>,
    left: u8,
}

impl<'a> Iterator for DeviceObjects<'a> {
    type Item = (ObjectId, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let mut c = self.c;
        let id = c.u8()?;
        let len = c.u8()?;
        let val = c.bytes(usize::from(len))?;
        self.c = c;
        self.left -= 1;
        Some((ObjectId(id), val))
    }
}
