; The window's launcher on Windows: a tiny program at the top of an installation
; (montage-client.exe) that the Start-menu shortcut starts. It reads the file
; `current` beside it and starts versions\<current>\<EXE> with its own arguments,
; then ends. An update changes `current`, never this program, so the shortcut
; keeps working. NSIS builds it (no Python, no console window); installer/nsis.py
; compiles it before the installer, which carries it. Defines:
;   EXE       the executable to start, e.g. montage-client.exe
;   OUTFILE   where the launcher goes
;   VERSION4  four numbers for its version resource

Unicode true
!include "FileFunc.nsh"
!include "LogicLib.nsh"

!ifndef EXE | OUTFILE | VERSION4
  !error "installer/nsis.py passes EXE, OUTFILE and VERSION4"
!endif

Name "Montage"
OutFile "${OUTFILE}"
SilentInstall silent
RequestExecutionLevel user
SetCompress off
VIProductVersion "${VERSION4}"
VIAddVersionKey "ProductName" "Montage"
VIAddVersionKey "FileDescription" "Montage (starts the installed version)"
VIAddVersionKey "FileVersion" "${VERSION4}"
VIAddVersionKey "CompanyName" "Montage contributors"
VIAddVersionKey "LegalCopyright" "Apache-2.0"

Section
  ClearErrors
  FileOpen $0 "$EXEDIR\current" r
  ${If} ${Errors}
    MessageBox MB_ICONSTOP "Montage is not installed completely ($EXEDIR\current is missing). Install it again."
    Quit
  ${EndIf}
  FileRead $0 $1
  FileClose $0
  ; The version without its line ending.
  ${Do}
    StrCpy $2 $1 1 -1
    ${If} $2 == "$\n"
    ${OrIf} $2 == "$\r"
    ${OrIf} $2 == " "
      StrCpy $1 $1 -1
    ${Else}
      ${ExitDo}
    ${EndIf}
  ${Loop}
  ${GetParameters} $3
  ClearErrors
  Exec '"$EXEDIR\versions\$1\${EXE}" $3'
  ${If} ${Errors}
    MessageBox MB_ICONSTOP "Montage $1 could not be started ($EXEDIR\versions\$1\${EXE}). Install Montage again."
  ${EndIf}
SectionEnd
