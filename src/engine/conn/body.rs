//! Credential identity (issue 28): the answer to a credential fetch has its body read
//! (http/credential.rs) for the identity it hands out; the request is reported when that body
//! is complete, or without identity when it cannot be read.

use super::{Conn, Pending};
use crate::event::{Outcome, Service};

impl Conn {
    /// Arms the response stream when the next answer is an AWS credential fetch's (a GET of
    /// EC2 IMDS, ECS or Pod Identity credentials, nothing queued before it).
    pub(super) fn arm_body(&mut self) {
        if self.orphans == 0
            && self.awaiting_body.is_none()
            && self.pending.front().is_some_and(|p| {
                let aws = matches!(
                    p.record.imds.service,
                    Service::Ec2Imds | Service::EcsTaskCredentials | Service::EksPodIdentity
                );
                aws && p.record.imds.credentials && !p.head_method
            })
        {
            self.resp.arm_capture();
        }
    }

    /// Issue 28: a credential answer whose body is complete gets its identity; one whose body
    /// cannot be read (chunked, too long, a hole) is reported without; one still being read
    /// waits for the next segment.
    pub(super) fn settle_body(&mut self, answered: &mut Vec<(Pending, Option<u16>, Outcome)>, slot: Option<usize>) {
        let body = self.resp.take_body(); // zeroed when dropped, read or not
        let slot = slot.or_else(|| {
            if body.is_none() && self.resp.capturing() {
                return None; // still reading: the next segment settles it
            }
            let (p, c) = self.awaiting_body.take()?;
            answered.push((p, Some(c), Outcome::from_status(c)));
            Some(answered.len() - 1)
        });
        if let (Some(i), Some(body)) = (slot, body)
            && let Some((p, _, _)) = answered.get_mut(i)
        {
            p.record.credentials = crate::http::credential::identity(&p.record.imds.path, &body).map(Box::new);
        }
    }
}
