//! Services (Part 4) as encoded in MSG bodies (Part 6 §5.2): the type id
//! of a message body, the request and response headers, and the few
//! service bodies PlantShield reads: the ApplicationDescriptions of
//! GetEndpoints and CreateSession, OpenSecureChannel, ActivateSession's
//! identity token type, and the first node of Read, Write, Call and Browse.

use plantshield_events::Operation;

use super::encoding::{Decoder, LocalizedText, NodeId};

/// A service message type: the numeric NodeId (namespace 0) of its
/// DefaultBinary encoding, e.g. 631 ReadRequest, 634 ReadResponse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId(pub u32);

#[allow(missing_docs)]
impl ServiceId {
    pub const SERVICE_FAULT: ServiceId = ServiceId(397);
    pub const GET_ENDPOINTS_REQUEST: ServiceId = ServiceId(428);
    pub const GET_ENDPOINTS_RESPONSE: ServiceId = ServiceId(431);
    pub const OPEN_SECURE_CHANNEL_REQUEST: ServiceId = ServiceId(446);
    pub const OPEN_SECURE_CHANNEL_RESPONSE: ServiceId = ServiceId(449);
    pub const CLOSE_SECURE_CHANNEL_REQUEST: ServiceId = ServiceId(452);
    pub const CREATE_SESSION_REQUEST: ServiceId = ServiceId(461);
    pub const CREATE_SESSION_RESPONSE: ServiceId = ServiceId(464);
    pub const ACTIVATE_SESSION_REQUEST: ServiceId = ServiceId(467);
    pub const BROWSE_REQUEST: ServiceId = ServiceId(527);
    pub const READ_REQUEST: ServiceId = ServiceId(631);
    pub const WRITE_REQUEST: ServiceId = ServiceId(673);
    pub const CALL_REQUEST: ServiceId = ServiceId(712);
}

/// The request encoding ids PlantShield names; each response is the
/// request's id + 3.
const SERVICES: [(u32, &str); 39] = [
    (422, "find_servers"),
    (428, "get_endpoints"),
    (437, "register_server"),
    (446, "open_secure_channel"),
    (452, "close_secure_channel"),
    (461, "create_session"),
    (467, "activate_session"),
    (473, "close_session"),
    (479, "cancel"),
    (488, "add_nodes"),
    (494, "add_references"),
    (500, "delete_nodes"),
    (506, "delete_references"),
    (527, "browse"),
    (533, "browse_next"),
    (554, "translate_browse_paths_to_node_ids"),
    (560, "register_nodes"),
    (566, "unregister_nodes"),
    (613, "query_first"),
    (619, "query_next"),
    (631, "read"),
    (664, "history_read"),
    (673, "write"),
    (700, "history_update"),
    (712, "call"),
    (751, "create_monitored_items"),
    (763, "modify_monitored_items"),
    (769, "set_monitoring_mode"),
    (775, "set_triggering"),
    (781, "delete_monitored_items"),
    (787, "create_subscription"),
    (793, "modify_subscription"),
    (799, "set_publishing_mode"),
    (826, "publish"),
    (832, "republish"),
    (841, "transfer_subscriptions"),
    (847, "delete_subscriptions"),
    (12208, "find_servers_on_network"),
    (12211, "register_server2"),
];

impl ServiceId {
    fn entry(self) -> Option<(u32, &'static str, bool)> {
        SERVICES.iter().find_map(|&(req, name)| {
            if self.0 == req {
                Some((req, name, false))
            } else if self.0 == req + 3 && req < 12000 {
                Some((req, name, true))
            } else {
                None
            }
        })
    }

    /// True for a response type (ServiceFault included).
    pub fn is_response(self) -> bool {
        self == Self::SERVICE_FAULT || self.entry().is_some_and(|e| e.2)
    }

    /// True for a known request type.
    pub fn is_request(self) -> bool {
        self.entry().is_some_and(|e| !e.2)
    }

    /// The request type of a service (itself for requests; the request of
    /// a response); `None` for unknown ids and ServiceFault.
    pub fn request(self) -> Option<ServiceId> {
        self.entry().map(|e| ServiceId(e.0))
    }

    /// snake_case name of the service (`read` for both ReadRequest and
    /// ReadResponse), `service_fault`, or `unknown`.
    pub fn name(self) -> &'static str {
        if self == Self::SERVICE_FAULT {
            return "service_fault";
        }
        self.entry().map_or("unknown", |e| e.1)
    }

    /// What the service does (`ics.operation`).
    pub fn operation(self) -> Operation {
        let Some(req) = self.request() else {
            return Operation::Other;
        };
        match req.0 {
            631 | 664 => Operation::Read,
            673 | 700 => Operation::Write,
            712 => Operation::Command,
            446 | 452 | 461 | 467 | 473 | 479 => Operation::Session,
            422 | 428 | 527 | 533 | 554 | 613 | 619 | 12208 => Operation::Discovery,
            // Subscriptions and monitored items deliver process data.
            751 | 763 | 769 | 775 | 781 | 787 | 793 | 799 | 826 | 832 | 841 | 847 => {
                Operation::Read
            }
            // Changing the server's address space or registering a server.
            488 | 494 | 500 | 506 | 437 | 12211 => Operation::Configuration,
            _ => Operation::Other,
        }
    }
}

/// The RequestHeader (Part 4 §7.33).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestHeader<'a> {
    /// The session's authentication token.
    pub authentication_token: NodeId<'a>,
    /// Timestamp (100 ns since 1601).
    pub timestamp: i64,
    /// RequestHandle.
    pub request_handle: u32,
    /// Timeout hint (ms).
    pub timeout_hint: u32,
}

/// The ResponseHeader (Part 4 §7.34).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseHeader {
    /// Timestamp.
    pub timestamp: i64,
    /// RequestHandle echoed.
    pub request_handle: u32,
    /// ServiceResult StatusCode.
    pub service_result: u32,
}

/// True when a StatusCode's severity is Bad (Part 4 §7.39: top bit).
pub fn status_is_bad(code: u32) -> bool {
    code & 0x8000_0000 != 0
}

fn request_header<'a>(d: &mut Decoder<'a>) -> Option<RequestHeader<'a>> {
    let authentication_token = d.node_id()?;
    let timestamp = d.i64()?;
    let request_handle = d.u32()?;
    let _return_diagnostics = d.u32()?;
    let _audit_entry_id = d.string()?;
    let timeout_hint = d.u32()?;
    d.extension_object()?;
    Some(RequestHeader {
        authentication_token,
        timestamp,
        request_handle,
        timeout_hint,
    })
}

fn response_header(d: &mut Decoder<'_>) -> Option<ResponseHeader> {
    let timestamp = d.i64()?;
    let request_handle = d.u32()?;
    let service_result = d.u32()?;
    d.diagnostic_info()?;
    d.string_array()?;
    d.extension_object()?;
    Some(ResponseHeader {
        timestamp,
        request_handle,
        service_result,
    })
}

/// The body of a plain MSG (or OPN, CLO): its type and header, and the
/// service parameters after the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Service<'a> {
    /// The type id (ns 0 numeric ids as [`ServiceId`]).
    pub id: Option<ServiceId>,
    /// The type id as encoded.
    pub type_id: NodeId<'a>,
    /// Requests: the RequestHeader.
    pub request_header: Option<RequestHeader<'a>>,
    /// Responses: the ResponseHeader.
    pub response_header: Option<ResponseHeader>,
    /// The parameters after the header (everything after the type id
    /// when the header did not decode).
    pub params: &'a [u8],
    /// The header did not decode.
    pub malformed: bool,
}

impl<'a> Service<'a> {
    /// Reads the body of a message (after the sequence header); `None`
    /// when not even the type id decodes.
    pub fn parse(body: &'a [u8]) -> Option<Self> {
        let mut d = Decoder::new(body);
        let type_id = d.expanded_node_id()?;
        let id = type_id.ns0_numeric().map(ServiceId);
        let after_type = d;
        let mut s = Service {
            id,
            type_id,
            request_header: None,
            response_header: None,
            params: after_type.rest(),
            malformed: false,
        };
        match id {
            Some(i) if i.is_response() => match response_header(&mut d) {
                Some(h) => {
                    s.response_header = Some(h);
                    s.params = d.rest();
                }
                None => s.malformed = true,
            },
            Some(i) if i.is_request() => match request_header(&mut d) {
                Some(h) => {
                    s.request_header = Some(h);
                    s.params = d.rest();
                }
                None => s.malformed = true,
            },
            _ => {}
        }
        Some(s)
    }
}

/// An ApplicationDescription (Part 4 §7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppDescription<'a> {
    /// The application instance URI.
    pub application_uri: Option<&'a [u8]>,
    /// The product URI (the same for every installation of the product).
    pub product_uri: Option<&'a [u8]>,
    /// The application name.
    pub application_name: LocalizedText<'a>,
    /// 0 server, 1 client, 2 client and server, 3 discovery server.
    pub application_type: u32,
    /// Gateway server URI.
    pub gateway_server_uri: Option<&'a [u8]>,
    /// Discovery URLs announced.
    pub discovery_urls: usize,
}

/// The name of an ApplicationType (Part 4 §7.2).
pub fn application_type_name(t: u32) -> &'static str {
    match t {
        0 => "server",
        1 => "client",
        2 => "client_and_server",
        3 => "discovery_server",
        _ => "unknown",
    }
}

fn app_description<'a>(d: &mut Decoder<'a>) -> Option<AppDescription<'a>> {
    let application_uri = d.string()?;
    let product_uri = d.string()?;
    let application_name = d.localized_text()?;
    let application_type = d.u32()?;
    let gateway_server_uri = d.string()?;
    let _discovery_profile_uri = d.string()?;
    let n = d.array_len()?;
    for _ in 0..n {
        d.string()?;
    }
    Some(AppDescription {
        application_uri,
        product_uri,
        application_name,
        application_type,
        gateway_server_uri,
        discovery_urls: n,
    })
}

/// An EndpointDescription (Part 4 §7.14), without its certificate and
/// user token policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint<'a> {
    /// The endpoint URL.
    pub endpoint_url: Option<&'a [u8]>,
    /// The server.
    pub server: AppDescription<'a>,
    /// MessageSecurityMode: 1 none, 2 sign, 3 sign and encrypt.
    pub security_mode: u32,
    /// SecurityPolicyUri.
    pub security_policy_uri: Option<&'a [u8]>,
    /// Security level.
    pub security_level: u8,
}

fn endpoint<'a>(d: &mut Decoder<'a>) -> Option<Endpoint<'a>> {
    let endpoint_url = d.string()?;
    let server = app_description(d)?;
    let _certificate = d.string()?;
    let security_mode = d.u32()?;
    let security_policy_uri = d.string()?;
    let n = d.array_len()?;
    for _ in 0..n {
        // UserTokenPolicy: policyId, tokenType, issuedTokenType,
        // issuerEndpointUrl, securityPolicyUri.
        d.string()?;
        d.u32()?;
        d.string()?;
        d.string()?;
        d.string()?;
    }
    let _transport_profile = d.string()?;
    let security_level = d.u8()?;
    Some(Endpoint {
        endpoint_url,
        server,
        security_mode,
        security_policy_uri,
        security_level,
    })
}

/// The endpoints of an EndpointDescription array, in order; stops at the
/// first that does not decode.
#[derive(Clone, Debug)]
pub struct Endpoints<'a> {
    d: Decoder<'a>,
    left: usize,
    /// Endpoints announced by the array length.
    pub count: usize,
}

impl<'a> Iterator for Endpoints<'a> {
    type Item = Endpoint<'a>;

    fn next(&mut self) -> Option<Endpoint<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let e = endpoint(&mut self.d);
        if e.is_none() {
            self.left = 0;
        }
        e
    }
}

fn endpoints<'a>(d: &mut Decoder<'a>) -> Option<Endpoints<'a>> {
    let n = d.array_len()?;
    Some(Endpoints {
        d: *d,
        left: n,
        count: n,
    })
}

/// GetEndpointsResponse parameters: the endpoints.
pub fn get_endpoints_response<'a>(params: &'a [u8]) -> Option<Endpoints<'a>> {
    endpoints(&mut Decoder::new(params))
}

/// CreateSessionRequest parameters (Part 4 §5.6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateSessionRequest<'a> {
    /// The client application.
    pub client: AppDescription<'a>,
    /// The server URI the client asks for.
    pub server_uri: Option<&'a [u8]>,
    /// The endpoint URL.
    pub endpoint_url: Option<&'a [u8]>,
    /// The session name.
    pub session_name: Option<&'a [u8]>,
}

/// CreateSessionRequest parameters.
pub fn create_session_request(params: &[u8]) -> Option<CreateSessionRequest<'_>> {
    let mut d = Decoder::new(params);
    Some(CreateSessionRequest {
        client: app_description(&mut d)?,
        server_uri: d.string()?,
        endpoint_url: d.string()?,
        session_name: d.string()?,
    })
}

/// CreateSessionResponse parameters: the session id and the server's
/// endpoints.
pub fn create_session_response(params: &[u8]) -> Option<(NodeId<'_>, Endpoints<'_>)> {
    let mut d = Decoder::new(params);
    let session_id = d.node_id()?;
    let _authentication_token = d.node_id()?;
    let _revised_timeout = d.f64()?;
    let _nonce = d.string()?;
    let _certificate = d.string()?;
    Some((session_id, endpoints(&mut d)?))
}

/// ActivateSessionRequest: the user identity token's type id
/// (321 anonymous, 324 user name, 327 X.509, 940 issued token).
pub fn activate_session_token(params: &[u8]) -> Option<u32> {
    let mut d = Decoder::new(params);
    // clientSignature: algorithm, signature.
    d.string()?;
    d.string()?;
    // clientSoftwareCertificates: certificateData, signature.
    for _ in 0..d.array_len()? {
        d.string()?;
        d.string()?;
    }
    d.string_array()?;
    d.extension_object()?.ns0_numeric()
}

/// The name of a user identity token encoding id.
pub fn identity_token_name(id: u32) -> &'static str {
    match id {
        321 => "anonymous",
        324 => "user_name",
        327 => "x509",
        940 => "issued",
        _ => "unknown",
    }
}

/// OpenSecureChannel request or response parameters (Part 4 §5.5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenChannel {
    /// Requests: 0 issue, 1 renew.
    pub request_type: Option<u32>,
    /// Requests: 1 none, 2 sign, 3 sign and encrypt.
    pub security_mode: Option<u32>,
    /// Requested or revised token lifetime (ms).
    pub lifetime: u32,
    /// Responses: the channel and token ids issued.
    pub token: Option<(u32, u32)>,
}

/// OpenSecureChannelRequest parameters.
pub fn open_request(params: &[u8]) -> Option<OpenChannel> {
    let mut d = Decoder::new(params);
    let _version = d.u32()?;
    let request_type = d.u32()?;
    let security_mode = d.u32()?;
    let _nonce = d.string()?;
    Some(OpenChannel {
        request_type: Some(request_type),
        security_mode: Some(security_mode),
        lifetime: d.u32()?,
        token: None,
    })
}

/// OpenSecureChannelResponse parameters.
pub fn open_response(params: &[u8]) -> Option<OpenChannel> {
    let mut d = Decoder::new(params);
    let _version = d.u32()?;
    let channel = d.u32()?;
    let token = d.u32()?;
    let _created = d.i64()?;
    Some(OpenChannel {
        request_type: None,
        security_mode: None,
        lifetime: d.u32()?,
        token: Some((channel, token)),
    })
}

/// Read, Write, Call and Browse requests: how many nodes, and the first
/// node (Call: the first object and method).
pub fn first_nodes<'a>(
    id: ServiceId,
    params: &'a [u8],
) -> Option<(usize, NodeId<'a>, Option<NodeId<'a>>)> {
    let mut d = Decoder::new(params);
    match id.0 {
        // maxAge, timestampsToReturn.
        631 => {
            d.f64()?;
            d.u32()?;
        }
        673 | 712 => {}
        // View (viewId, timestamp, viewVersion), requestedMaxReferencesPerNode.
        527 => {
            d.node_id()?;
            d.i64()?;
            d.u32()?;
            d.u32()?;
        }
        _ => return None,
    }
    let n = d.array_len()?;
    if n == 0 {
        return None;
    }
    let first = d.node_id()?;
    let second = if id.0 == 712 { d.node_id() } else { None };
    Some((n, first, second))
}
