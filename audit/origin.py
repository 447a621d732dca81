"""Where a change came from, handed to every write service by the face that calls it (no
thread-locals: the value travels as the `origin` keyword). None means the system (Celery, beat,
the tests). The constructors take plain values; the faces read their request."""

import getpass
import ipaddress
from dataclasses import dataclass

CHANNELS = ("web", "api", "cli", "import", "system")
USER_AGENT_MAX = 200
LABEL_MAX = 150


def _ip(value: str | None) -> str | None:
    """A well-formed address or None: the column refuses anything else."""
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


@dataclass(frozen=True)
class Origin:
    channel: str
    source_ip: str | None = None
    api_key_id: int | None = None
    api_key_label: str = ""  # the key's public prefix and name, never its secret
    user_agent: str = ""
    # Who acted when no panel user did: the OS user of a command, a mailbox owner's address.
    actor_label: str = ""

    def __post_init__(self):
        if self.channel not in CHANNELS:
            raise ValueError(f"Unknown audit channel {self.channel!r}.")
        object.__setattr__(self, "source_ip", _ip(self.source_ip))
        object.__setattr__(self, "user_agent", (self.user_agent or "")[:USER_AGENT_MAX])
        object.__setattr__(self, "api_key_label", (self.api_key_label or "")[:LABEL_MAX])
        object.__setattr__(self, "actor_label", (self.actor_label or "")[:LABEL_MAX])

    @classmethod
    def web(cls, *, source_ip: str | None, user_agent: str = "") -> "Origin":
        return cls("web", source_ip=source_ip, user_agent=user_agent)

    @classmethod
    def api(
        cls,
        *,
        source_ip: str | None,
        api_key_id: int | None,
        api_key_label: str,
        user_agent: str = "",
    ) -> "Origin":
        return cls(
            "api",
            source_ip=source_ip,
            api_key_id=api_key_id,
            api_key_label=api_key_label,
            user_agent=user_agent,
        )

    @classmethod
    def cli(cls, *, os_user: str | None = None) -> "Origin":
        """A management command: the OS account that ran it names the actor."""
        if os_user is None:
            try:
                os_user = getpass.getuser()
            except (KeyError, OSError):  # no passwd entry (some containers)
                os_user = ""
        return cls("cli", actor_label=os_user)

    @classmethod
    def imported(cls, *, label: str = "") -> "Origin":
        return cls("import", actor_label=label)

    def with_actor_label(self, label: str) -> "Origin":
        return Origin(
            self.channel,
            source_ip=self.source_ip,
            api_key_id=self.api_key_id,
            api_key_label=self.api_key_label,
            user_agent=self.user_agent,
            actor_label=label,
        )


SYSTEM = Origin("system")
