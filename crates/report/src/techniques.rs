//! Names of the MITRE ATT&CK for ICS techniques PlantShield's rules map
//! to (<https://attack.mitre.org/techniques/ics/>).

const NAMES: &[(&str, &str)] = &[
    ("T0806", "Brute Force I/O"),
    ("T0814", "Denial of Service"),
    ("T0816", "Device Restart/Shutdown"),
    ("T0830", "Adversary-in-the-Middle"),
    ("T0831", "Manipulation of Control"),
    ("T0836", "Modify Parameter"),
    ("T0843", "Program Download"),
    ("T0845", "Program Upload"),
    ("T0846", "Remote System Discovery"),
    ("T0848", "Rogue Master"),
    ("T0855", "Unauthorized Command Message"),
    ("T0857", "System Firmware"),
    ("T0858", "Change Operating Mode"),
    ("T0859", "Valid Accounts"),
    ("T0864", "Transient Cyber Asset"),
    ("T0869", "Standard Application Layer Protocol"),
    ("T0888", "Remote System Information Discovery"),
];

/// The name of an ATT&CK for ICS technique, when it is one the rules use.
pub fn technique_name(id: &str) -> Option<&'static str> {
    NAMES.iter().find(|(i, _)| *i == id).map(|(_, n)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_technique_of_the_rules_has_a_name() {
        for r in plantshield_engine::detect::RULES {
            for t in r.techniques {
                assert!(technique_name(t).is_some(), "{t} of {} has no name", r.id);
            }
        }
    }
}
