/**
 * kiwi's own `/.kconfig`: the helper functions of KIWI's kiwi/config/functions.sh that
 * config.sh and images.sh scripts commonly call, written for a Debian (systemd or
 * sysvinit) root. Functions whose job kiwi does itself (mounts, cleanup) are no-ops with
 * a note, rather than KIWI's deprecation exit, so old scripts keep building. Sourced with
 * bash (KIWI's scripts are bash), removed from the image after the build.
 */
// Written with $\{ for ${ (a template literal would interpolate), undone once below.
export const KCONFIG = String.raw`# /.kconfig: kiwi's helper functions for config.sh and images.sh (removed from the image)

function Echo {
    local option=""
    local prefix="----->"
    local optn=""
    local opte=""
    local OPTIND=1
    while getopts "bne" option; do
        case $\{option} in
            b) prefix="      " ;;
            n) optn="-n" ;;
            e) opte="-e" ;;
            *) echo "Invalid argument: $\{option}" ;;
        esac
    done
    shift $((OPTIND - 1))
    echo $\{optn} $\{opte} "$\{prefix} $1"
}

function Debug {
    if [ "$\{DEBUG:-0}" = 1 ]; then
        echo "+++++> (caller:$\{FUNCNAME[1]:-main}) $*"
    fi
}

function Rm {
    Debug "rm $*"
    rm "$@"
}

function baseSystemdServiceInstalled {
    local service=$1
    local dir
    for dir in /usr/lib/systemd/system /lib/systemd/system /etc/systemd/system /run/systemd/system; do
        for unit in "$\{dir}/$\{service}.service" "$\{dir}/$\{service}.mount" "$\{dir}/$\{service}"; do
            if [ -f "$\{unit}" ]; then
                echo "$\{unit}"
                return 0
            fi
        done
    done
    return 0
}

function baseSysVServiceInstalled {
    if [ -x "/etc/init.d/$1" ]; then
        echo "$1"
    fi
    return 0
}

function baseSystemdCall {
    local service=$1; shift
    if [ -n "$(baseSystemdServiceInstalled "$\{service}")" ] || [ -n "$(baseSysVServiceInstalled "$\{service}")" ]; then
        if command -v systemctl >/dev/null 2>&1; then
            systemctl "$@" "$\{service}"
        elif command -v update-rc.d >/dev/null 2>&1; then
            case "$1" in
                enable) update-rc.d "$\{service}" defaults ;;
                disable) update-rc.d "$\{service}" disable ;;
            esac
        fi
    fi
}

function baseInsertService {
    baseSystemdCall "$1" enable
}

function baseRemoveService {
    baseSystemdCall "$1" disable
}

function baseService {
    if [ -z "$\{1:-}" ]; then echo "baseService: no service name specified"; return; fi
    if [ -z "$\{2:-}" ]; then echo "baseService: no target specified"; return; fi
    if [ "$2" = off ]; then baseRemoveService "$1"; else baseInsertService "$1"; fi
}

function suseInsertService { baseInsertService "$@"; }
function suseRemoveService { baseRemoveService "$@"; }
function suseService { baseService "$@"; }
function suseActivateDefaultServices { Echo "suseActivateDefaultServices: nothing to do on Debian"; }
function suseImportBuildKey { :; }
function suseConfig { :; }
function suseSetupProduct { :; }
function suseSetupProductInformation { :; }
function suseRemoveYaST { :; }
function suseStripInitrd { :; }
function suseStripKernel { :; }
function suseCleanup { :; }
function baseCleanup { :; }

function baseSetRunlevel {
    local target=$1
    local systemd_system=/lib/systemd/system
    [ -d /usr/lib/systemd/system ] && systemd_system=/usr/lib/systemd/system
    local systemd_default=/etc/systemd/system/default.target
    mkdir -p /etc/systemd/system
    case "$\{target}" in
        1|2|3) ln -sf "$\{systemd_system}/multi-user.target" "$\{systemd_default}" ;;
        5) ln -sf "$\{systemd_system}/graphical.target" "$\{systemd_default}" ;;
        *)
            if [ -e "$\{systemd_system}/$\{target}" ]; then
                ln -sf "$\{systemd_system}/$\{target}" "$\{systemd_default}"
            else
                echo "Can't find systemd target: $\{target}"
            fi
            ;;
    esac
}

function baseUpdateSysConfig {
    # baseUpdateSysConfig FILE VARIABLE VALUE: set VARIABLE="VALUE" in FILE if present.
    local file=$1 variable=$2 value=$3
    if [ -f "$\{file}" ] && grep -q "^$\{variable}=" "$\{file}"; then
        sed -i "s|^$\{variable}=.*|$\{variable}=\"$\{value}\"|" "$\{file}"
    fi
}

function baseQuoteFile {
    local file=$1
    local conf=$\{file}.quoted
    grep -v '^$' "$\{file}" | grep -v '^[ \t]*#' > "$\{conf}"
    sed -E -i -e "s#(^[a-zA-Z0-9_]+)=[\"'](.*)[\"']#\1=\2#" "$\{conf}"
    sed -E -i -e "s#\\\\(.)#\1#g" "$\{conf}"
    sed -E -i -e "s#'+#'\\\\''#g" "$\{conf}"
    sed -E -i -e "s#(^[a-zA-Z0-9_]+)=(.*)#\1='\2'#" "$\{conf}"
    mv "$\{conf}" "$\{file}"
}

function baseSetupBuildDay {
    local buildDay
    buildDay="$(LC_ALL=C date -u '+%Y%m%d')"
    echo "build_day=$\{buildDay}" > /build_day
}

function baseStripLocales {
    # baseStripLocales KEEP...: remove locales under /usr/lib/locale not named.
    local keep="$*"
    local dir
    for dir in /usr/lib/locale/*/; do
        [ -d "$\{dir}" ] || continue
        local name; name=$(basename "$\{dir}")
        case " $\{keep} C.utf8 C.UTF-8 " in
            *" $\{name} "*) ;;
            *) rm -rf "$\{dir}" ;;
        esac
    done
}

function baseStripDocs { rm -rf /usr/share/doc/* /usr/share/man/* /usr/share/info/*; }
function baseStripMans { rm -rf /usr/share/man/*; }
function baseStripInfos { rm -rf /usr/share/info/*; }

# kiwi mounts and unmounts what scripts need itself: these are kept as no-ops.
function baseCleanMount { :; }
function baseMount { :; }
function mountProc { :; }
function baseSetupUserPermissions { :; }

function baseGetPackagesForDeletion { echo "$\{kiwi_delete:-}"; }
function baseGetProfilesUsed { echo "$\{kiwi_profiles:-}"; }
`.replaceAll('$\\{', '${');
