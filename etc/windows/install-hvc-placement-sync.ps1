# Registers hvc-placement-sync in periodic mode as a scheduled task on a
# node of the failover cluster (source = oswin): it starts at boot, runs
# as long as the node is up, and is restarted when it stops on a failure.
# Run once on each node, in an elevated PowerShell. See
# doc/source/admin/placement-sync.md, "Running hvc-placement-sync as a
# service".
#
#   .\install-hvc-placement-sync.ps1 -Exe C:\hvc\venv\Scripts\hvc-placement-sync.exe `
#       -ConfigFile C:\ProgramData\hvc\placement-sync.conf
#
# Stop it cleanly by creating its stop file (Windows sends it no SIGTERM;
# Stop-ScheduledTask ends the process at once, which loses nothing):
#
#   New-Item -ItemType File C:\ProgramData\hvc\hvc-placement-sync.stop
#
# Every node may run it: several copies converge without talking to each
# other (generations, deterministic provider uuids). -User: an account that
# may read the cluster's WMI and the CSVs (a gMSA ending in '$', or
# SYSTEM); its clouds.yaml, if any, is %APPDATA%\openstack\clouds.yaml or
# C:\ProgramData\openstack\clouds.yaml.
param(
    [Parameter(Mandatory = $true)][string]$Exe,
    [Parameter(Mandatory = $true)][string]$ConfigFile,
    [string]$LogFile = 'C:\ProgramData\hvc\log\hvc-placement-sync.log',
    [string]$StopFile = 'C:\ProgramData\hvc\hvc-placement-sync.stop',
    [string]$User = 'NT AUTHORITY\SYSTEM',
    [string]$TaskName = 'hvc-placement-sync'
)
$ErrorActionPreference = 'Stop'
New-Item -ItemType Directory -Force -Path (Split-Path $LogFile) | Out-Null

$action = New-ScheduledTaskAction -Execute $Exe `
    -Argument ('--config-file "{0}" --log-file "{1}" --stop-file "{2}"' -f $ConfigFile, $LogFile, $StopFile)
$trigger = New-ScheduledTaskTrigger -AtStartup
# No time limit; restart every minute, up to 999 times, after a failure
# (exit 1: placement or nova unreachable at start, say). Exit 2 is a
# configuration error: it shows as the task's last result.
$settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit ([TimeSpan]::Zero) `
    -RestartInterval (New-TimeSpan -Minutes 1) -RestartCount 999 `
    -MultipleInstances IgnoreNew -StartWhenAvailable
if ($User.EndsWith('$')) {
    $principal = New-ScheduledTaskPrincipal -UserId $User -LogonType Password -RunLevel Highest
} else {
    $principal = New-ScheduledTaskPrincipal -UserId $User -LogonType ServiceAccount -RunLevel Highest
}
Register-ScheduledTask -TaskName $TaskName -Action $action -Trigger $trigger `
    -Settings $settings -Principal $principal -Force | Out-Null
Start-ScheduledTask -TaskName $TaskName
Get-ScheduledTask -TaskName $TaskName | Select-Object TaskName, State
