"""The fleet read model of the operator console (LCM-MON-4, LCM-UI-1, SLW-WEB-4/5, SLW-MON-3, EVC-MON-1):
one operational status per device, the overview (counts, alarm trend, worst devices), the filtered
device table and the map positions — computed from the registry, the latest states and the
active alarms of the caller's tenant."""
