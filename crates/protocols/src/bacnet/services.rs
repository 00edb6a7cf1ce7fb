//! Service parameters (clauses 13 to 17): what PlantShield decodes of the
//! requests and acks, enough to say which object and property an operation
//! touched and what a device says about itself.

use super::codes::{ConfirmedService, ObjectId, PropertyId};
use super::tags::{enclosed, read_tag, Kind, Tag, Value};
use crate::cursor::Cursor;

/// I-Am (clause 16.10.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IAm {
    /// The Device object's identifier.
    pub device: ObjectId,
    /// Max APDU length accepted.
    pub max_apdu: u64,
    /// Segmentation supported (BACnetSegmentation).
    pub segmentation: u64,
    /// Vendor identifier assigned by ASHRAE.
    pub vendor_id: u64,
}

/// Who-Is (clause 16.10.1): the device instance range asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct WhoIs {
    /// Low limit.
    pub low: Option<u64>,
    /// High limit.
    pub high: Option<u64>,
}

/// Who-Has (clause 16.9.1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WhoHas<'a> {
    /// Device instance range.
    pub range: WhoIs,
    /// The object asked for by identifier.
    pub object: Option<ObjectId>,
    /// ... or by name.
    pub name: Option<Value<'a>>,
}

/// I-Have (clause 16.9.3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IHave<'a> {
    /// The device that has the object.
    pub device: ObjectId,
    /// The object.
    pub object: ObjectId,
    /// Its name.
    pub name: Value<'a>,
}

/// An object property reference with an optional value: ReadProperty
/// requests and acks, WriteProperty requests (clauses 15.5, 15.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PropertyRef<'a> {
    /// The object.
    pub object: ObjectId,
    /// The property.
    pub property: PropertyId,
    /// Array index.
    pub array_index: Option<u64>,
    /// The encoded value between the opening and closing tag 3 (acks and writes).
    pub value: Option<&'a [u8]>,
    /// WriteProperty priority.
    pub priority: Option<u64>,
}

fn context_u64(t: &Tag<'_>, n: u8) -> Option<u64> {
    if t.is_context(n) {
        t.unsigned()
    } else {
        None
    }
}

fn context_object(t: &Tag<'_>, n: u8) -> Option<ObjectId> {
    if !t.is_context(n) {
        return None;
    }
    let b: [u8; 4] = t.content().try_into().ok()?;
    Some(ObjectId::from_u32(u32::from_be_bytes(b)))
}

fn app_object(t: &Tag<'_>) -> Option<ObjectId> {
    match t.value()? {
        Value::ObjectId(o) => Some(o),
        _ => None,
    }
}

/// Reads the next tag without consuming it.
fn peek<'a>(c: &Cursor<'a>) -> Option<Tag<'a>> {
    let mut p = *c;
    read_tag(&mut p)
}

/// I-Am parameters.
pub fn i_am(data: &[u8]) -> Option<IAm> {
    let mut c = Cursor::new(data);
    let device = app_object(&read_tag(&mut c)?)?;
    let max_apdu = read_tag(&mut c)?.value()?.as_u64()?;
    let segmentation = read_tag(&mut c)?.value()?.as_u64()?;
    let vendor_id = read_tag(&mut c)?.value()?.as_u64()?;
    Some(IAm {
        device,
        max_apdu,
        segmentation,
        vendor_id,
    })
}

/// Who-Is parameters (none, or both limits).
pub fn who_is(data: &[u8]) -> Option<WhoIs> {
    let mut c = Cursor::new(data);
    if c.remaining() == 0 {
        return Some(WhoIs::default());
    }
    let low = context_u64(&read_tag(&mut c)?, 0)?;
    let high = context_u64(&read_tag(&mut c)?, 1)?;
    Some(WhoIs {
        low: Some(low),
        high: Some(high),
    })
}

/// Who-Has parameters.
pub fn who_has(data: &[u8]) -> Option<WhoHas<'_>> {
    let mut c = Cursor::new(data);
    let mut range = WhoIs::default();
    let mut t = read_tag(&mut c)?;
    if t.is_context(0) {
        range.low = t.unsigned();
        range.high = context_u64(&read_tag(&mut c)?, 1);
        t = read_tag(&mut c)?;
    }
    if let Some(o) = context_object(&t, 2) {
        return Some(WhoHas {
            range,
            object: Some(o),
            name: None,
        });
    }
    if t.is_context(3) {
        let Kind::Primitive { len, content } = t.kind else {
            return None;
        };
        return Some(WhoHas {
            range,
            object: None,
            name: Value::decode(7, len, content),
        });
    }
    None
}

/// I-Have parameters.
pub fn i_have(data: &[u8]) -> Option<IHave<'_>> {
    let mut c = Cursor::new(data);
    let device = app_object(&read_tag(&mut c)?)?;
    let object = app_object(&read_tag(&mut c)?)?;
    let name = read_tag(&mut c)?.value()?;
    Some(IHave {
        device,
        object,
        name,
    })
}

/// ReadProperty request or ack, WriteProperty request: `[0]` object, `[1]`
/// property, `[2]` array index, `[3]` value, `[4]` priority.
pub fn property_ref(data: &[u8]) -> Option<PropertyRef<'_>> {
    let mut c = Cursor::new(data);
    let object = context_object(&read_tag(&mut c)?, 0)?;
    let property = PropertyId(u32::try_from(context_u64(&read_tag(&mut c)?, 1)?).ok()?);
    let mut r = PropertyRef {
        object,
        property,
        array_index: None,
        value: None,
        priority: None,
    };
    while let Some(t) = read_tag(&mut c) {
        if let Some(i) = context_u64(&t, 2) {
            r.array_index = Some(i);
        } else if t.is_opening(3) {
            r.value = Some(enclosed(&mut c, 3)?);
        } else if let Some(p) = context_u64(&t, 4) {
            r.priority = Some(p);
        } else {
            break;
        }
    }
    Some(r)
}

/// What a ReadPropertyMultiple or WritePropertyMultiple item holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessResult<'a> {
    /// A property asked for (requests).
    Requested,
    /// The value read or written (encoded).
    Value(&'a [u8]),
    /// The property could not be read: error class and code.
    Error(u64, u64),
}

/// One property of a ReadPropertyMultiple or WritePropertyMultiple request
/// or ack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessItem<'a> {
    /// The object.
    pub object: ObjectId,
    /// The property.
    pub property: PropertyId,
    /// Array index.
    pub array_index: Option<u64>,
    /// Value, error, or nothing (requests).
    pub result: AccessResult<'a>,
    /// WritePropertyMultiple priority.
    pub priority: Option<u64>,
}

/// Which list the iterator reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessList {
    /// ReadPropertyMultiple request (clause 15.7.1.1): ReadAccessSpecifications.
    ReadRequest,
    /// ReadPropertyMultiple ack (clause 15.7.1.3): ReadAccessResults.
    ReadAck,
    /// WritePropertyMultiple request (clause 15.10.1.1): WriteAccessSpecifications.
    WriteRequest,
}

/// The properties of a ReadPropertyMultiple or WritePropertyMultiple
/// message, object by object. Stops at the first item that does not
/// decode; [`AccessItems::malformed`] then says so.
#[derive(Clone, Debug)]
pub struct AccessItems<'a> {
    c: Cursor<'a>,
    list: AccessList,
    object: Option<ObjectId>,
    malformed: bool,
    done: bool,
}

/// Iterates the properties of an RPM/WPM request or ack.
pub fn access_items(data: &[u8], list: AccessList) -> AccessItems<'_> {
    AccessItems {
        c: Cursor::new(data),
        list,
        object: None,
        malformed: false,
        done: false,
    }
}

impl AccessItems<'_> {
    /// True when the data stopped decoding before its end.
    pub fn malformed(&self) -> bool {
        self.malformed
    }
}

impl<'a> AccessItems<'a> {
    fn step(&mut self) -> Option<Option<AccessItem<'a>>> {
        loop {
            let Some(object) = self.object else {
                if self.c.remaining() == 0 {
                    return Some(None);
                }
                let o = context_object(&read_tag(&mut self.c)?, 0)?;
                if !read_tag(&mut self.c)?.is_opening(1) {
                    return None;
                }
                self.object = Some(o);
                continue;
            };
            let t = read_tag(&mut self.c)?;
            if t.is_closing(1) {
                self.object = None;
                continue;
            }
            let (prop_tag, index_tag) = match self.list {
                AccessList::ReadAck => (2, 3),
                _ => (0, 1),
            };
            let property = PropertyId(u32::try_from(context_u64(&t, prop_tag)?).ok()?);
            let mut item = AccessItem {
                object,
                property,
                array_index: None,
                result: AccessResult::Requested,
                priority: None,
            };
            if let Some(i) = peek(&self.c).and_then(|t| context_u64(&t, index_tag)) {
                read_tag(&mut self.c)?;
                item.array_index = Some(i);
            }
            match self.list {
                AccessList::ReadRequest => {}
                AccessList::ReadAck => {
                    let t = read_tag(&mut self.c)?;
                    if t.is_opening(4) {
                        item.result = AccessResult::Value(enclosed(&mut self.c, 4)?);
                    } else if t.is_opening(5) {
                        let inner = enclosed(&mut self.c, 5)?;
                        let (class, code) = error_pair(inner)?;
                        item.result = AccessResult::Error(class, code);
                    } else {
                        return None;
                    }
                }
                AccessList::WriteRequest => {
                    if !read_tag(&mut self.c)?.is_opening(2) {
                        return None;
                    }
                    item.result = AccessResult::Value(enclosed(&mut self.c, 2)?);
                    if let Some(p) = peek(&self.c).and_then(|t| context_u64(&t, 3)) {
                        read_tag(&mut self.c)?;
                        item.priority = Some(p);
                    }
                }
            }
            return Some(Some(item));
        }
    }
}

impl<'a> Iterator for AccessItems<'a> {
    type Item = AccessItem<'a>;

    fn next(&mut self) -> Option<AccessItem<'a>> {
        if self.done {
            return None;
        }
        match self.step() {
            Some(Some(item)) => Some(item),
            Some(None) => {
                self.done = true;
                None
            }
            None => {
                self.done = true;
                self.malformed = true;
                None
            }
        }
    }
}

/// An error class and code as two application enumerations.
fn error_pair(b: &[u8]) -> Option<(u64, u64)> {
    let mut c = Cursor::new(b);
    let class = match read_tag(&mut c)?.value()? {
        Value::Enumerated(v) => v,
        _ => return None,
    };
    let code = match read_tag(&mut c)?.value()? {
        Value::Enumerated(v) => v,
        _ => return None,
    };
    Some((class, code))
}

/// The error class and code of an Error PDU (clause 18): the plain
/// `Error` sequence, or the first one inside the constructed errors of
/// CreateObject, WritePropertyMultiple and the list services (context tag
/// 0 around it).
pub fn error(data: &[u8]) -> Option<(u64, u64)> {
    if let Some(p) = error_pair(data) {
        return Some(p);
    }
    let mut c = Cursor::new(data);
    let t = read_tag(&mut c)?;
    if t.is_opening(0) {
        return error_pair(enclosed(&mut c, 0)?);
    }
    None
}

/// ReinitializeDevice (clause 16.4.1): the state asked for and whether a
/// password was sent (its text is never reported).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reinitialize {
    /// reinitializedStateOfDevice.
    pub state: u64,
    /// A password was sent.
    pub password: bool,
}

/// ReinitializeDevice parameters.
pub fn reinitialize(data: &[u8]) -> Option<Reinitialize> {
    let mut c = Cursor::new(data);
    let state = context_u64(&read_tag(&mut c)?, 0)?;
    let password = read_tag(&mut c).is_some_and(|t| t.is_context(1));
    Some(Reinitialize { state, password })
}

/// DeviceCommunicationControl (clause 16.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommunicationControl {
    /// Minutes the state lasts (absent: indefinitely).
    pub duration: Option<u64>,
    /// enable, disable, disable-initiation.
    pub enable_disable: u64,
    /// A password was sent.
    pub password: bool,
}

/// DeviceCommunicationControl parameters.
pub fn communication_control(data: &[u8]) -> Option<CommunicationControl> {
    let mut c = Cursor::new(data);
    let mut t = read_tag(&mut c)?;
    let mut duration = None;
    if let Some(d) = context_u64(&t, 0) {
        duration = Some(d);
        t = read_tag(&mut c)?;
    }
    let enable_disable = context_u64(&t, 1)?;
    let password = read_tag(&mut c).is_some_and(|t| t.is_context(2));
    Some(CommunicationControl {
        duration,
        enable_disable,
        password,
    })
}

/// AtomicReadFile and AtomicWriteFile requests (clauses 14.1, 14.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileAccess {
    /// The File object.
    pub file: ObjectId,
    /// Stream access (otherwise record access).
    pub stream: bool,
    /// fileStartPosition or fileStartRecord.
    pub start: i64,
    /// Reads: octets or records asked for; writes: octets written or records.
    pub count: u64,
}

/// AtomicReadFile / AtomicWriteFile request parameters.
pub fn file_access(service: ConfirmedService, data: &[u8]) -> Option<FileAccess> {
    let mut c = Cursor::new(data);
    let file = app_object(&read_tag(&mut c)?)?;
    let t = read_tag(&mut c)?;
    let stream = if t.is_opening(0) {
        true
    } else if t.is_opening(1) {
        false
    } else {
        return None;
    };
    let inner = enclosed(&mut c, if stream { 0 } else { 1 })?;
    let mut ic = Cursor::new(inner);
    let start = match read_tag(&mut ic)?.value()? {
        Value::Signed(v) => v,
        Value::Unsigned(v) => i64::try_from(v).ok()?,
        _ => return None,
    };
    let count = match (service.0, stream) {
        // Writes of a stream: the octets written.
        (7, true) => match read_tag(&mut ic)?.value()? {
            Value::OctetString(b) => b.len() as u64,
            _ => return None,
        },
        // Record writes: recordCount; reads: requested octets or records.
        _ => read_tag(&mut ic)?.value()?.as_u64()?,
    };
    Some(FileAccess {
        file,
        stream,
        start,
        count,
    })
}

/// The object a confirmed request acts on, for the services that name one
/// first: ReadProperty, WriteProperty, CreateObject (its type, instance
/// 4194303 when the device chooses), DeleteObject, SubscribeCOV(Property),
/// AtomicReadFile/WriteFile, ReadRange, AcknowledgeAlarm's event object
/// and the COV and event notifications' initiating object.
pub fn request_object(service: ConfirmedService, data: &[u8]) -> Option<ObjectId> {
    let mut c = Cursor::new(data);
    match service.0 {
        12 | 15 | 26 => context_object(&read_tag(&mut c)?, 0),
        // CreateObject: [0] objectSpecifier { [0] objectType | [1] objectIdentifier }.
        10 => {
            if !read_tag(&mut c)?.is_opening(0) {
                return None;
            }
            let t = read_tag(&mut c)?;
            if let Some(o) = context_object(&t, 1) {
                return Some(o);
            }
            let ty = context_u64(&t, 0)?;
            Some(ObjectId {
                object_type: super::codes::ObjectType(u16::try_from(ty).ok()?),
                instance: ObjectId::WILDCARD_INSTANCE,
            })
        }
        11 | 6 | 7 => app_object(&read_tag(&mut c)?),
        // SubscribeCOV(Property)(Multiple): [0] process id, [1] monitored object.
        5 | 28 => {
            context_u64(&read_tag(&mut c)?, 0)?;
            context_object(&read_tag(&mut c)?, 1)
        }
        // AcknowledgeAlarm: [0] process id, [1] event object.
        0 => {
            context_u64(&read_tag(&mut c)?, 0)?;
            context_object(&read_tag(&mut c)?, 1)
        }
        // COV notifications: [0] process id, [1] initiating device, [2] monitored object.
        1 | 2 => {
            context_u64(&read_tag(&mut c)?, 0)?;
            context_object(&read_tag(&mut c)?, 1)?;
            context_object(&read_tag(&mut c)?, 2)
        }
        _ => None,
    }
}

/// The initiating device of a COV or event notification (confirmed or
/// unconfirmed): `[0]` process id, `[1]` initiating device identifier.
pub fn notification_device(data: &[u8]) -> Option<ObjectId> {
    let mut c = Cursor::new(data);
    context_u64(&read_tag(&mut c)?, 0)?;
    context_object(&read_tag(&mut c)?, 1)
}

/// TimeSynchronization / UTCTimeSynchronization: the date and time sent.
pub fn time_sync(data: &[u8]) -> Option<([u8; 4], [u8; 4])> {
    let mut c = Cursor::new(data);
    let Value::Date(d) = read_tag(&mut c)?.value()? else {
        return None;
    };
    let Value::Time(t) = read_tag(&mut c)?.value()? else {
        return None;
    };
    Some((d, t))
}
