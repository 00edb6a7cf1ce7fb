//! Type identification, cause of transmission and U-format functions
//! (IEC 60870-5-101 §7.2.1, §7.2.3; IEC 60870-5-104 §5.3, §8).

use plantshield_events::Operation;

/// Type identification: the first octet of the data unit identifier
/// (101 §7.2.1). Selects the information elements of every object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(pub u8);

/// Where a type identification sits in the code space (101 §7.2.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeClass {
    /// Process information in monitor direction (`M_*`).
    Monitor,
    /// Process information in control direction (`C_*` commands).
    Command,
    /// System information in control direction (`C_*` 100..=109).
    System,
    /// Parameters in control direction (`P_*`).
    Parameter,
    /// File transfer (`F_*`).
    File,
    /// Secure authentication (`S_*`, IEC 60870-5-7).
    Security,
    /// Reserved for further compatible definitions.
    Reserved,
    /// 128..=255: reserved for special use (private range).
    Private,
}

/// What one information element carries (101 §7.3): the layout of the
/// element that follows each information object address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElementKind {
    /// SIQ: single-point information with quality (§7.2.6.1).
    Siq,
    /// DIQ: double-point information with quality (§7.2.6.2).
    Diq,
    /// VTI + QDS: value with transient state indication (§7.2.6.5).
    VtiQds,
    /// BSI + QDS: 32-bit bitstring (§7.2.6.13).
    BsiQds,
    /// NVA + QDS: normalised value (§7.2.6.6).
    NvaQds,
    /// SVA + QDS: scaled value (§7.2.6.7).
    SvaQds,
    /// IEEE 754 short floating point + QDS (§7.2.6.8).
    R32Qds,
    /// BCR: binary counter reading (§7.2.6.9).
    Bcr,
    /// SEP + CP16 elapsed time: event of protection equipment (§7.2.6.10).
    SepCp16,
    /// SPE + QDP + CP16: packed start events of protection equipment (§7.2.6.11).
    SpeQdpCp16,
    /// OCI + QDP + CP16: packed output circuit information (§7.2.6.12).
    OciQdpCp16,
    /// SCD + QDS: packed single points with status change detection (§7.2.6.40).
    ScdQds,
    /// NVA without quality descriptor (M_ME_ND_1).
    Nva,
    /// SCO: single command (§7.2.6.15).
    Sco,
    /// DCO: double command (§7.2.6.16).
    Dco,
    /// RCO: regulating step command (§7.2.6.17).
    Rco,
    /// NVA + QOS: set-point, normalised (§7.2.6.39).
    NvaQos,
    /// SVA + QOS: set-point, scaled.
    SvaQos,
    /// R32 + QOS: set-point, short float.
    R32Qos,
    /// BSI: 32-bit bitstring command.
    Bsi,
    /// COI: cause of initialisation (§7.2.6.21).
    Coi,
    /// QOI: qualifier of interrogation (§7.2.6.22).
    Qoi,
    /// QCC: qualifier of counter interrogation (§7.2.6.23).
    Qcc,
    /// No element (C_RD_NA_1: the address alone says what to read).
    Empty,
    /// CP56Time2a alone (C_CS_NA_1 clock synchronisation).
    Cp56,
    /// FBP: fixed test bit pattern 0x55AA (§7.2.6.14).
    Fbp,
    /// QRP: qualifier of reset process (§7.2.6.27).
    Qrp,
    /// CP16Time2a (C_CD_NA_1 delay acquisition).
    Cp16,
    /// TSC: test sequence counter (C_TS_TA_1, 104 §8).
    Tsc,
    /// NVA + QPM: parameter of measured value, normalised (§7.2.6.24).
    NvaQpm,
    /// SVA + QPM.
    SvaQpm,
    /// R32 + QPM.
    R32Qpm,
    /// QPA: qualifier of parameter activation (§7.2.6.25).
    Qpa,
    /// A file transfer element of fixed length, kept raw (§7.3.6).
    FileRaw(u8),
}

impl ElementKind {
    /// Octets of the element, without its time tag.
    pub fn len(self) -> usize {
        match self {
            ElementKind::Siq
            | ElementKind::Diq
            | ElementKind::Sco
            | ElementKind::Dco
            | ElementKind::Rco
            | ElementKind::Coi
            | ElementKind::Qoi
            | ElementKind::Qcc
            | ElementKind::Qrp
            | ElementKind::Qpa => 1,
            ElementKind::VtiQds
            | ElementKind::Nva
            | ElementKind::Fbp
            | ElementKind::Cp16
            | ElementKind::Tsc => 2,
            ElementKind::NvaQds
            | ElementKind::SvaQds
            | ElementKind::SepCp16
            | ElementKind::NvaQos
            | ElementKind::SvaQos
            | ElementKind::NvaQpm
            | ElementKind::SvaQpm => 3,
            ElementKind::SpeQdpCp16 | ElementKind::OciQdpCp16 | ElementKind::Bsi => 4,
            ElementKind::BsiQds
            | ElementKind::R32Qds
            | ElementKind::Bcr
            | ElementKind::ScdQds
            | ElementKind::R32Qos
            | ElementKind::R32Qpm => 5,
            ElementKind::Empty => 0,
            ElementKind::Cp56 => 7,
            ElementKind::FileRaw(n) => usize::from(n),
        }
    }

    /// True for an element without octets.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// The time tag appended to each element (101 §7.2.6.18, §7.2.6.19).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeTag {
    /// No time tag.
    None,
    /// CP24Time2a: milliseconds and minutes.
    Cp24,
    /// CP56Time2a: milliseconds to years.
    Cp56,
}

impl TimeTag {
    /// Octets of the tag.
    pub fn len(self) -> usize {
        match self {
            TimeTag::None => 0,
            TimeTag::Cp24 => 3,
            TimeTag::Cp56 => 7,
        }
    }

    /// True for no tag.
    pub fn is_empty(self) -> bool {
        self == TimeTag::None
    }
}

/// Layout of one information object's element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The element.
    pub element: ElementKind,
    /// Its time tag.
    pub time: TimeTag,
}

impl Layout {
    /// Octets per element, time tag included (the information object
    /// address not included).
    pub fn len(self) -> usize {
        self.element.len() + self.time.len()
    }

    /// True when an element has no octets at all.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

const fn l(element: ElementKind, time: TimeTag) -> Option<Layout> {
    Some(Layout { element, time })
}

#[allow(missing_docs)]
impl TypeId {
    pub const M_SP_NA_1: TypeId = TypeId(1);
    pub const M_DP_NA_1: TypeId = TypeId(3);
    pub const M_ST_NA_1: TypeId = TypeId(5);
    pub const M_BO_NA_1: TypeId = TypeId(7);
    pub const M_ME_NA_1: TypeId = TypeId(9);
    pub const M_ME_NB_1: TypeId = TypeId(11);
    pub const M_ME_NC_1: TypeId = TypeId(13);
    pub const M_IT_NA_1: TypeId = TypeId(15);
    pub const M_SP_TB_1: TypeId = TypeId(30);
    pub const M_DP_TB_1: TypeId = TypeId(31);
    pub const M_ME_TD_1: TypeId = TypeId(34);
    pub const M_ME_TE_1: TypeId = TypeId(35);
    pub const M_ME_TF_1: TypeId = TypeId(36);
    pub const M_IT_TB_1: TypeId = TypeId(37);
    pub const C_SC_NA_1: TypeId = TypeId(45);
    pub const C_DC_NA_1: TypeId = TypeId(46);
    pub const C_RC_NA_1: TypeId = TypeId(47);
    pub const C_SE_NA_1: TypeId = TypeId(48);
    pub const C_SE_NB_1: TypeId = TypeId(49);
    pub const C_SE_NC_1: TypeId = TypeId(50);
    pub const C_BO_NA_1: TypeId = TypeId(51);
    pub const C_SC_TA_1: TypeId = TypeId(58);
    pub const C_DC_TA_1: TypeId = TypeId(59);
    pub const C_RC_TA_1: TypeId = TypeId(60);
    pub const C_SE_TA_1: TypeId = TypeId(61);
    pub const C_SE_TB_1: TypeId = TypeId(62);
    pub const C_SE_TC_1: TypeId = TypeId(63);
    pub const C_BO_TA_1: TypeId = TypeId(64);
    pub const M_EI_NA_1: TypeId = TypeId(70);
    pub const C_IC_NA_1: TypeId = TypeId(100);
    pub const C_CI_NA_1: TypeId = TypeId(101);
    pub const C_RD_NA_1: TypeId = TypeId(102);
    pub const C_CS_NA_1: TypeId = TypeId(103);
    pub const C_TS_NA_1: TypeId = TypeId(104);
    pub const C_RP_NA_1: TypeId = TypeId(105);
    pub const C_CD_NA_1: TypeId = TypeId(106);
    pub const C_TS_TA_1: TypeId = TypeId(107);
    pub const P_ME_NA_1: TypeId = TypeId(110);
    pub const P_AC_NA_1: TypeId = TypeId(113);
    pub const F_FR_NA_1: TypeId = TypeId(120);
    pub const F_SC_NB_1: TypeId = TypeId(127);
}

impl TypeId {
    /// The mnemonic of the specification (`M_SP_NA_1`), `None` for
    /// reserved and private codes. 101 Table 8-13 (and 104 §8 for
    /// C_TS_TA_1 and F_SC_NB_1, IEC 60870-5-7 for `S_*`).
    pub fn mnemonic(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "M_SP_NA_1",
            2 => "M_SP_TA_1",
            3 => "M_DP_NA_1",
            4 => "M_DP_TA_1",
            5 => "M_ST_NA_1",
            6 => "M_ST_TA_1",
            7 => "M_BO_NA_1",
            8 => "M_BO_TA_1",
            9 => "M_ME_NA_1",
            10 => "M_ME_TA_1",
            11 => "M_ME_NB_1",
            12 => "M_ME_TB_1",
            13 => "M_ME_NC_1",
            14 => "M_ME_TC_1",
            15 => "M_IT_NA_1",
            16 => "M_IT_TA_1",
            17 => "M_EP_TA_1",
            18 => "M_EP_TB_1",
            19 => "M_EP_TC_1",
            20 => "M_PS_NA_1",
            21 => "M_ME_ND_1",
            30 => "M_SP_TB_1",
            31 => "M_DP_TB_1",
            32 => "M_ST_TB_1",
            33 => "M_BO_TB_1",
            34 => "M_ME_TD_1",
            35 => "M_ME_TE_1",
            36 => "M_ME_TF_1",
            37 => "M_IT_TB_1",
            38 => "M_EP_TD_1",
            39 => "M_EP_TE_1",
            40 => "M_EP_TF_1",
            41 => "S_IT_TC_1",
            45 => "C_SC_NA_1",
            46 => "C_DC_NA_1",
            47 => "C_RC_NA_1",
            48 => "C_SE_NA_1",
            49 => "C_SE_NB_1",
            50 => "C_SE_NC_1",
            51 => "C_BO_NA_1",
            58 => "C_SC_TA_1",
            59 => "C_DC_TA_1",
            60 => "C_RC_TA_1",
            61 => "C_SE_TA_1",
            62 => "C_SE_TB_1",
            63 => "C_SE_TC_1",
            64 => "C_BO_TA_1",
            70 => "M_EI_NA_1",
            81 => "S_CH_NA_1",
            82 => "S_RP_NA_1",
            83 => "S_AR_NA_1",
            84 => "S_KR_NA_1",
            85 => "S_KS_NA_1",
            86 => "S_KC_NA_1",
            87 => "S_ER_NA_1",
            90 => "S_US_NA_1",
            91 => "S_UQ_NA_1",
            92 => "S_UR_NA_1",
            93 => "S_UK_NA_1",
            94 => "S_UA_NA_1",
            95 => "S_UC_NA_1",
            100 => "C_IC_NA_1",
            101 => "C_CI_NA_1",
            102 => "C_RD_NA_1",
            103 => "C_CS_NA_1",
            104 => "C_TS_NA_1",
            105 => "C_RP_NA_1",
            106 => "C_CD_NA_1",
            107 => "C_TS_TA_1",
            110 => "P_ME_NA_1",
            111 => "P_ME_NB_1",
            112 => "P_ME_NC_1",
            113 => "P_AC_NA_1",
            120 => "F_FR_NA_1",
            121 => "F_SR_NA_1",
            122 => "F_SC_NA_1",
            123 => "F_LS_NA_1",
            124 => "F_AF_NA_1",
            125 => "F_SG_NA_1",
            126 => "F_DR_TA_1",
            127 => "F_SC_NB_1",
            _ => return None,
        })
    }

    /// snake_case name for `ics.function`: the mnemonic in lower case
    /// (`m_sp_na_1`), `reserved` or `private` for codes without one, and
    /// `not_used` for 0.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "m_sp_na_1",
            2 => "m_sp_ta_1",
            3 => "m_dp_na_1",
            4 => "m_dp_ta_1",
            5 => "m_st_na_1",
            6 => "m_st_ta_1",
            7 => "m_bo_na_1",
            8 => "m_bo_ta_1",
            9 => "m_me_na_1",
            10 => "m_me_ta_1",
            11 => "m_me_nb_1",
            12 => "m_me_tb_1",
            13 => "m_me_nc_1",
            14 => "m_me_tc_1",
            15 => "m_it_na_1",
            16 => "m_it_ta_1",
            17 => "m_ep_ta_1",
            18 => "m_ep_tb_1",
            19 => "m_ep_tc_1",
            20 => "m_ps_na_1",
            21 => "m_me_nd_1",
            30 => "m_sp_tb_1",
            31 => "m_dp_tb_1",
            32 => "m_st_tb_1",
            33 => "m_bo_tb_1",
            34 => "m_me_td_1",
            35 => "m_me_te_1",
            36 => "m_me_tf_1",
            37 => "m_it_tb_1",
            38 => "m_ep_td_1",
            39 => "m_ep_te_1",
            40 => "m_ep_tf_1",
            41 => "s_it_tc_1",
            45 => "c_sc_na_1",
            46 => "c_dc_na_1",
            47 => "c_rc_na_1",
            48 => "c_se_na_1",
            49 => "c_se_nb_1",
            50 => "c_se_nc_1",
            51 => "c_bo_na_1",
            58 => "c_sc_ta_1",
            59 => "c_dc_ta_1",
            60 => "c_rc_ta_1",
            61 => "c_se_ta_1",
            62 => "c_se_tb_1",
            63 => "c_se_tc_1",
            64 => "c_bo_ta_1",
            70 => "m_ei_na_1",
            81 => "s_ch_na_1",
            82 => "s_rp_na_1",
            83 => "s_ar_na_1",
            84 => "s_kr_na_1",
            85 => "s_ks_na_1",
            86 => "s_kc_na_1",
            87 => "s_er_na_1",
            90 => "s_us_na_1",
            91 => "s_uq_na_1",
            92 => "s_ur_na_1",
            93 => "s_uk_na_1",
            94 => "s_ua_na_1",
            95 => "s_uc_na_1",
            100 => "c_ic_na_1",
            101 => "c_ci_na_1",
            102 => "c_rd_na_1",
            103 => "c_cs_na_1",
            104 => "c_ts_na_1",
            105 => "c_rp_na_1",
            106 => "c_cd_na_1",
            107 => "c_ts_ta_1",
            110 => "p_me_na_1",
            111 => "p_me_nb_1",
            112 => "p_me_nc_1",
            113 => "p_ac_na_1",
            120 => "f_fr_na_1",
            121 => "f_sr_na_1",
            122 => "f_sc_na_1",
            123 => "f_ls_na_1",
            124 => "f_af_na_1",
            125 => "f_sg_na_1",
            126 => "f_dr_ta_1",
            127 => "f_sc_nb_1",
            0 => "not_used",
            128..=255 => "private",
            _ => "reserved",
        }
    }

    /// The code's class (101 §7.2.1.1).
    pub fn class(self) -> TypeClass {
        match self.0 {
            1..=21 | 30..=40 | 70 => TypeClass::Monitor,
            41 | 81..=87 | 90..=95 => TypeClass::Security,
            45..=51 | 58..=64 => TypeClass::Command,
            100..=107 => TypeClass::System,
            110..=113 => TypeClass::Parameter,
            120..=127 => TypeClass::File,
            128..=255 => TypeClass::Private,
            _ => TypeClass::Reserved,
        }
    }

    /// Types of IEC 60870-5-101 that 104 does not use (104 §8): the
    /// CP24Time2a variants, C_TS_NA_1 and C_CD_NA_1.
    pub fn not_in_104(self) -> bool {
        matches!(
            self.0,
            2 | 4 | 6 | 8 | 10 | 12 | 14 | 16 | 17 | 18 | 19 | 104 | 106
        )
    }

    /// A command whose object carries a select/execute bit (S/E): single,
    /// double, regulating step and set-point commands (101 §7.2.6.15-17, .39).
    pub fn has_select(self) -> bool {
        matches!(self.0, 45..=50 | 58..=63)
    }

    /// Element layout; `None` where the length is variable (F_SG_NA_1,
    /// the secure authentication types) or unknown.
    pub fn layout(self) -> Option<Layout> {
        use ElementKind as E;
        use TimeTag as T;
        match self.0 {
            1 => l(E::Siq, T::None),
            2 => l(E::Siq, T::Cp24),
            3 => l(E::Diq, T::None),
            4 => l(E::Diq, T::Cp24),
            5 => l(E::VtiQds, T::None),
            6 => l(E::VtiQds, T::Cp24),
            7 => l(E::BsiQds, T::None),
            8 => l(E::BsiQds, T::Cp24),
            9 => l(E::NvaQds, T::None),
            10 => l(E::NvaQds, T::Cp24),
            11 => l(E::SvaQds, T::None),
            12 => l(E::SvaQds, T::Cp24),
            13 => l(E::R32Qds, T::None),
            14 => l(E::R32Qds, T::Cp24),
            15 => l(E::Bcr, T::None),
            16 => l(E::Bcr, T::Cp24),
            17 => l(E::SepCp16, T::Cp24),
            18 => l(E::SpeQdpCp16, T::Cp24),
            19 => l(E::OciQdpCp16, T::Cp24),
            20 => l(E::ScdQds, T::None),
            21 => l(E::Nva, T::None),
            30 => l(E::Siq, T::Cp56),
            31 => l(E::Diq, T::Cp56),
            32 => l(E::VtiQds, T::Cp56),
            33 => l(E::BsiQds, T::Cp56),
            34 => l(E::NvaQds, T::Cp56),
            35 => l(E::SvaQds, T::Cp56),
            36 => l(E::R32Qds, T::Cp56),
            37 => l(E::Bcr, T::Cp56),
            38 => l(E::SepCp16, T::Cp56),
            39 => l(E::SpeQdpCp16, T::Cp56),
            40 => l(E::OciQdpCp16, T::Cp56),
            45 => l(E::Sco, T::None),
            46 => l(E::Dco, T::None),
            47 => l(E::Rco, T::None),
            48 => l(E::NvaQos, T::None),
            49 => l(E::SvaQos, T::None),
            50 => l(E::R32Qos, T::None),
            51 => l(E::Bsi, T::None),
            58 => l(E::Sco, T::Cp56),
            59 => l(E::Dco, T::Cp56),
            60 => l(E::Rco, T::Cp56),
            61 => l(E::NvaQos, T::Cp56),
            62 => l(E::SvaQos, T::Cp56),
            63 => l(E::R32Qos, T::Cp56),
            64 => l(E::Bsi, T::Cp56),
            70 => l(E::Coi, T::None),
            100 => l(E::Qoi, T::None),
            101 => l(E::Qcc, T::None),
            102 => l(E::Empty, T::None),
            103 => l(E::Cp56, T::None),
            104 => l(E::Fbp, T::None),
            105 => l(E::Qrp, T::None),
            106 => l(E::Cp16, T::None),
            107 => l(E::Tsc, T::Cp56),
            110 => l(E::NvaQpm, T::None),
            111 => l(E::SvaQpm, T::None),
            112 => l(E::R32Qpm, T::None),
            113 => l(E::Qpa, T::None),
            // File transfer (101 §7.3.6): name of file, lengths and
            // qualifiers, kept raw.
            120 => l(E::FileRaw(6), T::None),
            121 => l(E::FileRaw(7), T::None),
            122 => l(E::FileRaw(4), T::None),
            123 => l(E::FileRaw(5), T::None),
            124 => l(E::FileRaw(4), T::None),
            126 => l(E::FileRaw(6), T::Cp56),
            // Query log: name of file, range start and stop times.
            127 => l(E::FileRaw(16), T::None),
            _ => None,
        }
    }

    /// What the type does, for `ics.operation`.
    pub fn operation(self) -> Operation {
        match self.class() {
            TypeClass::Monitor => Operation::Read,
            TypeClass::Command => Operation::Command,
            TypeClass::System => match self.0 {
                100..=102 => Operation::Read,
                103 | 106 => Operation::Configuration,
                104 | 107 => Operation::Diagnostics,
                105 => Operation::ModeChange,
                _ => Operation::Other,
            },
            TypeClass::Parameter => Operation::Configuration,
            TypeClass::File => Operation::File,
            TypeClass::Security => match self.0 {
                // Integrated totals of security statistics are monitored data.
                41 => Operation::Read,
                // Challenges, replies and key management protect the session.
                _ => Operation::Session,
            },
            TypeClass::Reserved | TypeClass::Private => Operation::Other,
        }
    }

    /// A type the controlling station sends to be confirmed: commands,
    /// system commands and parameters (101 §7.2.1.1 control direction).
    pub fn is_control(self) -> bool {
        matches!(
            self.class(),
            TypeClass::Command | TypeClass::System | TypeClass::Parameter
        )
    }

    /// Activations that the controlled station terminates with ACTTERM
    /// after ACTCON: interrogations always (101 §7.4.5, §7.4.6), commands
    /// when their execution ends (optional, 101 §6.8). Selections are
    /// never terminated.
    pub fn may_terminate(self) -> bool {
        matches!(self.0, 45..=51 | 58..=64 | 100 | 101)
    }
}

/// Cause of transmission, 6 bits (101 §7.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cause(pub u8);

#[allow(missing_docs)]
impl Cause {
    pub const PERIODIC: Cause = Cause(1);
    pub const BACKGROUND: Cause = Cause(2);
    pub const SPONTANEOUS: Cause = Cause(3);
    pub const INITIALIZED: Cause = Cause(4);
    pub const REQUEST: Cause = Cause(5);
    pub const ACTIVATION: Cause = Cause(6);
    pub const ACTIVATION_CON: Cause = Cause(7);
    pub const DEACTIVATION: Cause = Cause(8);
    pub const DEACTIVATION_CON: Cause = Cause(9);
    pub const ACTIVATION_TERMINATION: Cause = Cause(10);
    pub const FILE_TRANSFER: Cause = Cause(13);
    pub const INTERROGATED_BY_STATION: Cause = Cause(20);
    pub const UNKNOWN_TYPE_ID: Cause = Cause(44);
    pub const UNKNOWN_CAUSE: Cause = Cause(45);
    pub const UNKNOWN_COMMON_ADDRESS: Cause = Cause(46);
    pub const UNKNOWN_IOA: Cause = Cause(47);
}

impl Cause {
    /// snake_case name from 101 §7.2.3 (`per_cyc`, `spont`, `actcon`,
    /// `inro1`..`inro16`, `unknown_ioa`, ...); `not_used` for 0, `reserved`
    /// for 14-19 and 42-43, `private` for 48-63.
    pub fn name(self) -> &'static str {
        const INRO: [&str; 16] = [
            "inro1", "inro2", "inro3", "inro4", "inro5", "inro6", "inro7", "inro8", "inro9",
            "inro10", "inro11", "inro12", "inro13", "inro14", "inro15", "inro16",
        ];
        const REQCO: [&str; 4] = ["reqco1", "reqco2", "reqco3", "reqco4"];
        match self.0 {
            0 => "not_used",
            1 => "per_cyc",
            2 => "back",
            3 => "spont",
            4 => "init",
            5 => "req",
            6 => "act",
            7 => "actcon",
            8 => "deact",
            9 => "deactcon",
            10 => "actterm",
            11 => "retrem",
            12 => "retloc",
            13 => "file",
            20 => "inrogen",
            21..=36 => INRO[usize::from(self.0 - 21)],
            37 => "reqcogen",
            38..=41 => REQCO[usize::from(self.0 - 38)],
            44 => "unknown_type",
            45 => "unknown_cause",
            46 => "unknown_common_address",
            47 => "unknown_ioa",
            48..=63 => "private",
            _ => "reserved",
        }
    }

    /// Causes the specification does not define (0, 14-19, 42-43, and
    /// anything above 63, which 6 bits cannot hold).
    pub fn is_undefined(self) -> bool {
        matches!(self.0, 0 | 14..=19 | 42 | 43 | 64..)
    }

    /// The controlled station's mirror saying it cannot process the
    /// request: unknown type, cause, common address or IOA (44-47).
    pub fn is_unknown_mirror(self) -> bool {
        matches!(self.0, 44..=47)
    }
}

/// A U-format function: bits 3-8 of control octet 1 (104 §5.3), i.e. the
/// octet shifted right by two. Exactly one bit is set in a valid frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UFunction(pub u8);

#[allow(missing_docs)]
impl UFunction {
    pub const STARTDT_ACT: UFunction = UFunction(0x01);
    pub const STARTDT_CON: UFunction = UFunction(0x02);
    pub const STOPDT_ACT: UFunction = UFunction(0x04);
    pub const STOPDT_CON: UFunction = UFunction(0x08);
    pub const TESTFR_ACT: UFunction = UFunction(0x10);
    pub const TESTFR_CON: UFunction = UFunction(0x20);
}

/// The three U-format procedures (104 §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UProcedure {
    /// Start data transfer.
    Startdt,
    /// Stop data transfer.
    Stopdt,
    /// Test frame (keep-alive).
    Testfr,
}

impl UProcedure {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            UProcedure::Startdt => "startdt",
            UProcedure::Stopdt => "stopdt",
            UProcedure::Testfr => "testfr",
        }
    }

    /// The activation's function bits.
    pub fn act(self) -> UFunction {
        match self {
            UProcedure::Startdt => UFunction::STARTDT_ACT,
            UProcedure::Stopdt => UFunction::STOPDT_ACT,
            UProcedure::Testfr => UFunction::TESTFR_ACT,
        }
    }

    /// The confirmation's function bits.
    pub fn con(self) -> UFunction {
        UFunction(self.act().0 << 1)
    }

    /// Index 0..3 for small per-procedure tables.
    pub fn index(self) -> usize {
        match self {
            UProcedure::Startdt => 0,
            UProcedure::Stopdt => 1,
            UProcedure::Testfr => 2,
        }
    }

    /// `ics.function_code` of the procedure: 256 plus the activation's
    /// bits (257, 260, 272), above every type identification so the two
    /// code spaces never mix in statistics.
    pub fn function_code(self) -> u32 {
        U_CODE_BASE + u32::from(self.act().0)
    }
}

/// Base of the `ics.function_code` values given to U-format frames.
pub const U_CODE_BASE: u32 = 256;

impl UFunction {
    /// The procedure and whether this is its confirmation; `None` unless
    /// exactly one defined bit is set.
    pub fn procedure(self) -> Option<(UProcedure, bool)> {
        Some(match self.0 {
            0x01 => (UProcedure::Startdt, false),
            0x02 => (UProcedure::Startdt, true),
            0x04 => (UProcedure::Stopdt, false),
            0x08 => (UProcedure::Stopdt, true),
            0x10 => (UProcedure::Testfr, false),
            0x20 => (UProcedure::Testfr, true),
            _ => return None,
        })
    }

    /// snake_case name (`startdt_act`, ...), `unknown` for other bit patterns.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x01 => "startdt_act",
            0x02 => "startdt_con",
            0x04 => "stopdt_act",
            0x08 => "stopdt_con",
            0x10 => "testfr_act",
            0x20 => "testfr_con",
            _ => "unknown",
        }
    }
}
