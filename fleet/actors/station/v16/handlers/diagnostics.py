"""GetDiagnostics (1.6 Firmware Management, 5.9): a simulated upload.

The answer names the file; then DiagnosticsStatusNotification reports Uploading and,
the profile's ``firmware_step`` simulated seconds later, Uploaded (UploadFailed when
the location contains ``fail``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .....ocpp.v16 import (
    DiagnosticsStatus,
    DiagnosticsStatusNotificationRequest,
    GetDiagnosticsRequest,
    GetDiagnosticsResponse,
)

if TYPE_CHECKING:
    from ..dialect import V16Dialect

__all__ = ["get_diagnostics"]


def get_diagnostics(st: V16Dialect, request: GetDiagnosticsRequest) -> GetDiagnosticsResponse:
    station = st.station
    outcome = DiagnosticsStatus.UPLOAD_FAILED if "fail" in request.location.lower() else DiagnosticsStatus.UPLOADED

    def notify(status: DiagnosticsStatus) -> None:
        st.diagnostics_status = status
        station.send(DiagnosticsStatusNotificationRequest(status=status), durable=True)

    def uploading() -> None:
        notify(DiagnosticsStatus.UPLOADING)
        station.sim_timer("diagnostics", station.profile.firmware_step, lambda: notify(outcome))

    station.sim_timer("diagnostics", 0.0, uploading)
    return GetDiagnosticsResponse(file_name=f"{station.station_id}-diagnostics.log"[:255])
