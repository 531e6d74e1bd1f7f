"""One OCPP version's CALLERROR codes: which it may send, and how it spells each meaning.

fleet's session and handlers speak one internal vocabulary of error *meanings*:
the members of :class:`~fleet.ocpp.errors.ErrorCode` (named, and valued, as OCPP-J
2.0.1 spells them). The wire vocabulary belongs to the version: OCPP-J 1.6 spells
FormatViolation ``FormationViolation`` and OccurrenceConstraintViolation
``OccurenceConstraintViolation``, and has no RpcFrameworkError or
MessageTypeNotSupported at all. An :class:`ErrorCodes` table says, for one version:

* the codes it may send, and the meaning each stands for;
* for each meaning it has no code for, the meaning it answers with instead
  (its *fallback*), so every meaning can be spelled;
* extra spellings it understands on the way in (aliases), e.g. a corrected spelling
  a peer might use.

The session spells on the way out (:meth:`ErrorCodes.spell`) and reads on the way
in (:meth:`ErrorCodes.read`); neither happens on the hot path (only for errors).

Example (OCPP-J 1.6)::

    ErrorCodes.of(
        {ErrorCode.FORMAT_VIOLATION: "FormationViolation", ...},
        fallback={ErrorCode.RPC_FRAMEWORK_ERROR: ErrorCode.PROTOCOL_ERROR, ...},
    )
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .errors import ErrorCode

__all__ = ["ErrorCodes"]


@dataclass(frozen=True, slots=True)
class ErrorCodes:
    """A version's CALLERROR vocabulary; build it with :meth:`of`.

    Attributes:
        spelling: every meaning (an :class:`ErrorCode`, which is a ``str``) -> the
            code this version sends for it (a meaning the version lacks is spelled
            as its fallback's code).
        meaning: every code this version sends or understands -> its meaning.
        sendable: the codes this version may send (its table of valid error codes).
    """

    spelling: Mapping[str, str]
    meaning: Mapping[str, ErrorCode]
    sendable: frozenset[str]

    @classmethod
    def of(
        cls,
        codes: Mapping[ErrorCode, str],
        *,
        fallback: Mapping[ErrorCode, ErrorCode] | None = None,
        aliases: Mapping[str, ErrorCode] | None = None,
    ) -> ErrorCodes:
        """The table of a version.

        Args:
            codes: each meaning the version has a code for -> its spelling.
            fallback: each meaning it has no code for -> the meaning it sends
                instead (which must be in ``codes``). Together with ``codes``
                every :class:`ErrorCode` must be covered.
            aliases: further codes understood on the way in -> their meaning.

        Raises:
            ValueError: a meaning is covered twice or not at all, a fallback has
                no code, or two meanings share a spelling.
        """
        fallback = fallback or {}
        aliases = aliases or {}
        both = set(codes) & set(fallback)
        if both:
            raise ValueError(f"meanings both spelled and falling back: {sorted(both)}")
        missing = set(ErrorCode) - set(codes) - set(fallback)
        if missing:
            raise ValueError(f"meanings with neither a code nor a fallback: {sorted(missing)}")
        lost = {meaning for meaning, instead in fallback.items() if instead not in codes}
        if lost:
            raise ValueError(f"fallbacks to a meaning without a code: {sorted(lost)}")
        if len(set(codes.values())) != len(codes):
            raise ValueError("two meanings share one spelling")
        spelling: dict[str, str] = {meaning: code for meaning, code in codes.items()}
        spelling.update({meaning: codes[instead] for meaning, instead in fallback.items()})
        meaning = {code: meaning for meaning, code in codes.items()}
        meaning.update(aliases)
        return cls(
            spelling=MappingProxyType({code: spelling[code] for code in ErrorCode}),
            meaning=MappingProxyType(meaning),
            sendable=frozenset(codes.values()),
        )

    def spell(self, code: ErrorCode | str) -> str:
        """The code to send for ``code``.

        A meaning (an :class:`ErrorCode`, or a string equal to one) is spelled as
        this version spells it; any other string goes out unchanged, as given.
        """
        return self.spelling.get(code, code)

    def read(self, code: str) -> ErrorCode | str:
        """The meaning of a received code, or the code itself if this version has no such code."""
        return self.meaning.get(code, code)
