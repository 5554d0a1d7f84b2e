//! The protocol messages of a move: request, accept or decline, confirm, migrate.

use vmplace_wire::state::{Message, MessageKind};

/// The source asks `host` about `vm`; the host accepts or declines.
pub(super) fn converse(
    messages: &mut Vec<Message>,
    vm: &str,
    source: &str,
    host: &str,
    accepted: bool,
) {
    let say = |kind: MessageKind, from: &str, to: &str| Message {
        kind,
        vm: vm.into(),
        from: from.into(),
        to: to.into(),
    };
    messages.push(say(MessageKind::Request, source, host));
    messages.push(say(
        if accepted {
            MessageKind::Accept
        } else {
            MessageKind::Decline
        },
        host,
        source,
    ));
}

/// The source confirms the chosen target and the VM moves.
pub(super) fn confirm(messages: &mut Vec<Message>, vm: &str, source: &str, target: &str) {
    for kind in [MessageKind::Confirm, MessageKind::Migrate] {
        messages.push(Message {
            kind,
            vm: vm.into(),
            from: source.into(),
            to: target.into(),
        });
    }
}
