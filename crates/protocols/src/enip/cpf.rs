//! The Common Packet Format (CIP Vol. 2 §2-6): an item count followed by
//! (type id, length, data) items, an address item first and a data item
//! second.

use crate::cursor::Cursor;

/// Items accepted in one packet. SendRRData and SendUnitData carry two to
/// four; a ListIdentity reply from one device carries one.
pub const MAX_ITEMS: u16 = 32;

/// A CPF item type id (Vol. 2 §2-6.1, Table 2-6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemType(pub u16);

#[allow(missing_docs)]
impl ItemType {
    pub const NULL_ADDRESS: ItemType = ItemType(0x0000);
    pub const LIST_IDENTITY: ItemType = ItemType(0x000C);
    pub const CIP_SECURITY_INFORMATION: ItemType = ItemType(0x0086);
    pub const CONNECTED_ADDRESS: ItemType = ItemType(0x00A1);
    pub const CONNECTED_DATA: ItemType = ItemType(0x00B1);
    pub const UNCONNECTED_DATA: ItemType = ItemType(0x00B2);
    pub const LIST_SERVICES: ItemType = ItemType(0x0100);
    pub const SOCKADDR_O_T: ItemType = ItemType(0x8000);
    pub const SOCKADDR_T_O: ItemType = ItemType(0x8001);
    pub const SEQUENCED_ADDRESS: ItemType = ItemType(0x8002);
    pub const UNCONNECTED_MESSAGE_UDP: ItemType = ItemType(0x8003);
}

impl ItemType {
    /// snake_case name; `unknown` otherwise.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x0000 => "null_address",
            0x000C => "list_identity",
            0x0086 => "cip_security_information",
            0x00A1 => "connected_address",
            0x00B1 => "connected_data",
            0x00B2 => "unconnected_data",
            0x0100 => "list_services",
            0x8000 => "sockaddr_info_o_t",
            0x8001 => "sockaddr_info_t_o",
            0x8002 => "sequenced_address",
            0x8003 => "unconnected_message_udp",
            _ => "unknown",
        }
    }
}

/// One item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item<'a> {
    /// What the item holds.
    pub type_id: ItemType,
    /// Its data (exactly the announced length).
    pub data: &'a [u8],
}

/// A checked item list: every announced item fits the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpf<'a> {
    /// Items announced (and present).
    pub item_count: u16,
    /// The item bytes, after the count.
    bytes: &'a [u8],
    /// Bytes after the last item.
    pub trailing: usize,
}

/// Why bytes are not a CPF item list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpfError {
    /// No item count.
    NoCount,
    /// More items than [`MAX_ITEMS`].
    TooManyItems(u16),
    /// An item runs past the end of the data.
    Truncated,
}

impl CpfError {
    /// A sentence fragment for anomaly messages.
    pub fn reason(self) -> &'static str {
        match self {
            CpfError::NoCount => "no common packet format item count",
            CpfError::TooManyItems(_) => "more common packet format items than accepted",
            CpfError::Truncated => "a common packet format item runs past the message",
        }
    }
}

impl<'a> Cpf<'a> {
    /// Checks the item list at the start of `b`.
    pub fn parse(b: &'a [u8]) -> Result<Cpf<'a>, CpfError> {
        let mut c = Cursor::new(b);
        let count = c.u16_le().ok_or(CpfError::NoCount)?;
        if count > MAX_ITEMS {
            return Err(CpfError::TooManyItems(count));
        }
        let bytes = c.rest();
        for _ in 0..count {
            let _type = c.u16_le().ok_or(CpfError::Truncated)?;
            let len = c.u16_le().ok_or(CpfError::Truncated)?;
            c.bytes(usize::from(len)).ok_or(CpfError::Truncated)?;
        }
        Ok(Cpf {
            item_count: count,
            bytes,
            trailing: c.remaining(),
        })
    }

    /// The items, in order.
    pub fn items(&self) -> Items<'a> {
        Items {
            c: Cursor::new(self.bytes),
            left: self.item_count,
        }
    }

    /// The address item and the data item of a SendRRData, SendUnitData or
    /// I/O packet (Vol. 2 §2-6.2: address first, data second), plus the
    /// optional socket address items that follow.
    pub fn message(&self) -> Message<'a> {
        let mut it = self.items();
        let address = match it.next() {
            None => Address::Missing,
            Some(i) => Address::from_item(i),
        };
        let data = it.next();
        let mut m = Message {
            address,
            data_type: data.map(|d| d.type_id),
            data: data.map_or(&[][..], |d| d.data),
            sockaddr_o_t: None,
            sockaddr_t_o: None,
        };
        for i in it {
            match i.type_id {
                ItemType::SOCKADDR_O_T => m.sockaddr_o_t = SockAddr::parse(i.data),
                ItemType::SOCKADDR_T_O => m.sockaddr_t_o = SockAddr::parse(i.data),
                _ => {}
            }
        }
        m
    }
}

/// Iterator over the items of a checked list.
#[derive(Clone, Debug)]
pub struct Items<'a> {
    c: Cursor<'a>,
    left: u16,
}

impl<'a> Iterator for Items<'a> {
    type Item = Item<'a>;
    fn next(&mut self) -> Option<Item<'a>> {
        if self.left == 0 {
            return None;
        }
        let type_id = ItemType(self.c.u16_le()?);
        let len = self.c.u16_le()?;
        let data = self.c.bytes(usize::from(len))?;
        self.left -= 1;
        Some(Item { type_id, data })
    }
}

/// The address item of a message (Vol. 2 §2-6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Address {
    /// Null address item: an unconnected message.
    Null,
    /// Connected address item: the connection id of a connected message.
    Connected {
        /// Connection id chosen by the consumer of this direction.
        connection_id: u32,
    },
    /// Sequenced address item (implicit I/O over UDP).
    Sequenced {
        /// Connection id.
        connection_id: u32,
        /// Encapsulation sequence number.
        sequence: u32,
    },
    /// Another item first, or an address item of the wrong length.
    Other(ItemType),
    /// No items at all.
    Missing,
}

impl Address {
    fn from_item(i: Item<'_>) -> Address {
        let mut c = Cursor::new(i.data);
        match (i.type_id, i.data.len()) {
            (ItemType::NULL_ADDRESS, 0) => Address::Null,
            (ItemType::CONNECTED_ADDRESS, 4) => match c.u32_le() {
                Some(connection_id) => Address::Connected { connection_id },
                None => Address::Other(i.type_id),
            },
            (ItemType::SEQUENCED_ADDRESS, 8) => match (c.u32_le(), c.u32_le()) {
                (Some(connection_id), Some(sequence)) => Address::Sequenced {
                    connection_id,
                    sequence,
                },
                _ => Address::Other(i.type_id),
            },
            (t, _) => Address::Other(t),
        }
    }

    /// The connection id, for connected and sequenced addresses.
    pub fn connection_id(self) -> Option<u32> {
        match self {
            Address::Connected { connection_id } | Address::Sequenced { connection_id, .. } => {
                Some(connection_id)
            }
            _ => None,
        }
    }
}

/// A socket address item (Vol. 2 §2-6.3.2), big-endian like `sockaddr_in`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockAddr {
    /// AF_INET (2).
    pub family: u16,
    /// UDP port.
    pub port: u16,
    /// IPv4 address.
    pub addr: [u8; 4],
}

impl SockAddr {
    /// Reads the 16-byte `sockaddr_in` layout.
    pub fn parse(b: &[u8]) -> Option<SockAddr> {
        let mut c = Cursor::new(b);
        let family = c.u16()?;
        let port = c.u16()?;
        let a = c.bytes(4)?;
        c.bytes(8)?;
        Some(SockAddr {
            family,
            port,
            addr: [a[0], a[1], a[2], a[3]],
        })
    }
}

/// The address and data of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// First item.
    pub address: Address,
    /// Type of the second item, if any.
    pub data_type: Option<ItemType>,
    /// Second item's data (empty if none).
    pub data: &'a [u8],
    /// Where the originator wants T->O I/O sent (Forward Open over UDP).
    pub sockaddr_o_t: Option<SockAddr>,
    /// Where the target will consume O->T I/O.
    pub sockaddr_t_o: Option<SockAddr>,
}

impl<'a> Message<'a> {
    /// A connected data item's CIP sequence count and the rest (Vol. 2
    /// §2-6.3.2: class 3 transports prefix the message with a 16-bit count).
    pub fn sequenced_data(&self) -> Option<(u16, &'a [u8])> {
        if self.data_type != Some(ItemType::CONNECTED_DATA) {
            return None;
        }
        let mut c = Cursor::new(self.data);
        let seq = c.u16_le()?;
        Some((seq, c.rest()))
    }
}
