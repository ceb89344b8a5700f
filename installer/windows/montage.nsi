; Montage's Windows installers, one script for both programs (makensis 3, on Windows or Linux).
; Run through installer/nsis.py, which passes the defines below:
;   APP       client | receiver
;   PAYLOAD   the frozen folder from ./scripts/build.sh (dist\montage-client or dist\montage-receiver)
;   VERSION   0.1.0 (the build's stamp); VERSION4 0.1.0.0 (Windows wants four numbers)
;   OUTFILE   where the installer goes
;   CONSOLE_LAUNCHER  the .cmd that starts the current version's console program
;                     (montage-client-cli.cmd, montage-receiver.cmd: montage_core/updates/launchers.py)
;   LAUNCHER  client only: montage-client.exe, the window's launcher (launcher.nsi)
;   UPDATES   optional: a folder with root.json and source.json (and a CA) for update\
;   FAST      optional: store without compression (CI compiles the script, it ships nothing)
;
; The installation is laid out as montage_core/updates/installation.py's
; Installation.create does, so that the program can update itself later:
;   $INSTDIR\current                 the version to start ("0.1.0")
;   $INSTDIR\versions\0.1.0\         the frozen folder
;   $INSTDIR\montage-client.exe       (client) the launcher the shortcut starts
;   $INSTDIR\<console>.cmd            the launcher for terminals and scripts
;   $INSTDIR\update\                  the release keys to trust and where updates come from
; Installing again over an installation replaces its versions and keeps what
; update\metadata\ has verified.
; The client installs per user, with no administrator rights: into
; %LOCALAPPDATA%\Programs\Montage, a Start-menu entry, an uninstaller listed in
; Settings > Apps (HKCU). It needs no firewall rule: it only connects out.
; The receiver is a room's display, installed once per machine by IT: it
; needs an inbound firewall rule (TLS from presenters, WebRTC media over UDP),
; and adding one needs administrator rights, so its installer asks for them,
; installs into Program Files, and starts the receiver when anyone logs on.

Unicode true
!include "MUI2.nsh"
!include "LogicLib.nsh"

!ifndef APP | PAYLOAD | VERSION | VERSION4 | OUTFILE | CONSOLE_LAUNCHER
  !error "installer/nsis.py passes APP, PAYLOAD, VERSION, VERSION4, OUTFILE and CONSOLE_LAUNCHER"
!endif

!if "${APP}" == "client"
  !define NAME "Montage"
  !define EXE "montage-client.exe"
  !define CONSOLE "montage-client-cli"
  ; The shortcut starts the launcher (no console window), which starts the current version.
  !define START "montage-client.exe"
  !ifndef LAUNCHER
    !error "the client's installer needs LAUNCHER (installer/windows/launcher.nsi)"
  !endif
  !define DESCRIPTION "Share your screen to a meeting room"
  !define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Montage"
  !define ROOT HKCU
  RequestExecutionLevel user
  InstallDir "$LOCALAPPDATA\Programs\Montage"
!else if "${APP}" == "receiver"
  !define NAME "Montage Receiver"
  !define EXE "montage-receiver.exe"
  !define CONSOLE "montage-receiver"
  ; A console program: its launcher is the .cmd, in the console the receiver opens anyway.
  !define START "montage-receiver.cmd"
  !define DESCRIPTION "The meeting room's display"
  !define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Montage Receiver"
  !define ROOT HKLM
  !define FIREWALL_RULE "Montage Receiver"
  RequestExecutionLevel admin
  InstallDir "$PROGRAMFILES64\Montage Receiver"
!else
  !error "APP is client or receiver"
!endif

Name "${NAME}"
OutFile "${OUTFILE}"
!ifdef FAST
  SetCompress off
!else
  SetCompressor /SOLID lzma
!endif
ShowInstDetails show
ShowUninstDetails show

; Properties > Details of the installer itself (the programs carry their own,
; written by pyinstaller.spec).
VIProductVersion "${VERSION4}"
VIFileVersion "${VERSION4}"
VIAddVersionKey "ProductName" "${NAME}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${NAME} ${VERSION} setup"
VIAddVersionKey "CompanyName" "Montage contributors"
VIAddVersionKey "LegalCopyright" "Apache-2.0"

!define MUI_FINISHPAGE_RUN "$INSTDIR\${START}"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${NAME} now"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Function .onInit
  !if "${APP}" == "receiver"
    SetShellVarContext all
  !else
    SetShellVarContext current
  !endif
FunctionEnd

Function un.onInit
  !if "${APP}" == "receiver"
    SetShellVarContext all
  !else
    SetShellVarContext current
  !endif
FunctionEnd

Section "${NAME}"
  ; Versions other than this one go (a running one's files stay until it ends);
  ; update\ keeps what the updater has verified (rollback protection).
  RMDir /r "$INSTDIR\versions"
  RMDir /r "$INSTDIR\_internal" ; a layout from before versions\ existed
  SetOutPath "$INSTDIR\versions\${VERSION}"
  File /r "${PAYLOAD}\*"
  SetOutPath "$INSTDIR"
  ; Written new and renamed, as the updater switches versions.
  FileOpen $0 "$INSTDIR\current.new" w
  FileWrite $0 "${VERSION}$\n"
  FileClose $0
  Delete "$INSTDIR\current"
  Rename "$INSTDIR\current.new" "$INSTDIR\current"
  File "/oname=${CONSOLE}.cmd" "${CONSOLE_LAUNCHER}"
  !ifdef LAUNCHER
    File "/oname=${START}" "${LAUNCHER}"
  !endif
  !ifdef UPDATES
    SetOutPath "$INSTDIR\update"
    File /r "${UPDATES}\*"
    SetOutPath "$INSTDIR"
  !endif
  WriteUninstaller "$INSTDIR\uninstall.exe"

  ; Icons name the launcher: a version's folder goes when a later update prunes it.
  CreateShortcut "$SMPROGRAMS\${NAME}.lnk" "$INSTDIR\${START}" "" "" 0 SW_SHOWNORMAL "" \
    "${DESCRIPTION}"
  !if "${APP}" == "receiver"
    ; A room's PC shows the meeting screen as soon as it is logged on.
    CreateShortcut "$SMSTARTUP\${NAME}.lnk" "$INSTDIR\${START}"
    ; One rule for the program (not per port): presenters' TLS connection and
    ; WebRTC's UDP media both arrive at it. Replaced, not duplicated, when installed
    ; again. It names this version's path, and Program Files is not the receiver's
    ; to write: the receiver is updated by installing the new version (IT), never
    ; by itself (its `update` says so), so the rule always names what runs.
    nsExec::ExecToLog 'netsh advfirewall firewall delete rule name="${FIREWALL_RULE}"'
    Pop $0
    nsExec::ExecToLog 'netsh advfirewall firewall add rule name="${FIREWALL_RULE}" dir=in \
      action=allow program="$INSTDIR\versions\${VERSION}\${EXE}" enable=yes profile=domain,private'
    Pop $0
    ${If} $0 != 0
      DetailPrint "Could not add the firewall rule (netsh: $0); allow ${EXE} in Windows Firewall."
    ${EndIf}
  !endif

  WriteRegStr ${ROOT} "${UNINSTALL_KEY}" "DisplayName" "${NAME}"
  WriteRegStr ${ROOT} "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr ${ROOT} "${UNINSTALL_KEY}" "Publisher" "Montage contributors"
  WriteRegStr ${ROOT} "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\${START}"
  WriteRegStr ${ROOT} "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr ${ROOT} "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr ${ROOT} "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD ${ROOT} "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD ${ROOT} "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  !if "${APP}" == "receiver"
    nsExec::ExecToLog 'netsh advfirewall firewall delete rule name="${FIREWALL_RULE}"'
    Pop $0
    Delete "$SMSTARTUP\${NAME}.lnk"
  !endif
  Delete "$SMPROGRAMS\${NAME}.lnk"
  RMDir /r "$INSTDIR"
  DeleteRegKey ${ROOT} "${UNINSTALL_KEY}"
SectionEnd
