#!/bin/bash
# In-VM entry point of the Wi-Fi test (run by vm-init as /share/guest.sh):
# three mac80211_hwsim radios. The first is moved into a network namespace
# of its own ("ap": the access point's side, so nothing reaches it but over
# the simulated air) and runs hostapd with a WPA2-PSK network, dnsmasq for
# DHCP and an HTTP server standing in for the binary cache. NetworkManager
# (started by hand: vm-init is no systemd) manages the second radio only; a
# wpa_supplicant of its own, as on the NixOS 25.05 ISO, holds the third.
# Then wifi-driver.py runs the installer's engine against them, and the CLI's
# unattended install onto the attached disk, which joins the network itself.
#
# Never echo the PSK: it is only handed to tools as a file, and the host
# greps every result for it.
set -u
S=/share
R=$S/results
IN=$S/input
mark() { echo "=== $* ($(cut -d' ' -f1 /proc/uptime)s)"; }
py=/opt/venv/bin/python

mark start
mark pip
/opt/venv/bin/pip install -q --no-index --no-deps "$S"/wheels/nixos_tui_installer-*.whl \
	>"$R/pip.log" 2>&1 || { echo "pip install failed"; cat "$R/pip.log"; exit 10; }

mark radios
modprobe mac80211_hwsim radios=3 || exit 11
for _ in $(seq 50); do [ -e /sys/class/net/wlan2 ] && break; sleep 0.2; done
udevadm settle --timeout=30
ip -br link >"$R/links.txt" 2>&1
ssid=$(cat "$IN/ssid")
ip netns add ap
phy=$(cat /sys/class/net/wlan0/phy80211/name)
iw phy "$phy" set netns name ap || exit 12
ip -n ap link set lo up
ip -n ap link set wlan0 up
ip -n ap addr add 192.168.77.1/24 dev wlan0
# The hostapd configuration holds the PSK: 0600 under /run (tmpfs), never in argv.
umask 077
{
	printf 'interface=wlan0\ndriver=nl80211\nssid=%s\nhw_mode=g\nchannel=6\n' "$ssid"
	printf 'wpa=2\nwpa_key_mgmt=WPA-PSK\nrsn_pairwise=CCMP\nctrl_interface=/run/hostapd\n'
	printf 'wpa_passphrase=%s\n' "$(cat "$IN/psk")"
} >/run/hostapd.conf
umask 022

mark ap
ip netns exec ap hostapd -B -P /run/hostapd.pid -f "$R/hostapd.log" /run/hostapd.conf || exit 13
ip netns exec ap dnsmasq --interface=wlan0 --bind-interfaces --port=0 --user=root \
	--dhcp-range=192.168.77.10,192.168.77.50,1h --dhcp-leasefile=/run/dnsmasq.leases \
	--pid-file=/run/dnsmasq.pid --log-dhcp --log-facility="$R/dnsmasq.log" || exit 14
mkdir -p /tmp/cache
printf 'StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n' >/tmp/cache/nix-cache-info
ip netns exec ap $py -m http.server --bind 192.168.77.1 --directory /tmp/cache 8080 >"$R/http.log" 2>&1 &

mark nm
mkdir -p /run/dbus /var/lib/NetworkManager /etc/NetworkManager/conf.d
dbus-daemon --system --fork --nopidfile || exit 15
# NetworkManager asks wpa_supplicant over D-Bus; with no systemd to activate it, start it first.
wpa_supplicant -u -f "$R/wpa-nm.log" -B || exit 16
cat >/etc/NetworkManager/conf.d/vmtest.conf <<'CONF'
[main]
auth-polkit=false
dhcp=internal
[keyfile]
unmanaged-devices=interface-name:wlan2
[device]
wifi.scan-rand-mac-address=no
CONF
NetworkManager --debug --log-level=INFO >"$R/nm.log" 2>&1 &
for _ in $(seq 100); do [ "$(nmcli -t -f RUNNING general 2>/dev/null)" = running ] && break; sleep 0.3; done
# The 25.05 ISO's set-up: a wpa_supplicant with a control socket per interface, no network configured.
printf 'ctrl_interface=DIR=/run/wpa_supplicant GROUP=root\nupdate_config=0\n' >/run/wpa-fallback.conf
wpa_supplicant -B -i wlan2 -c /run/wpa-fallback.conf -f "$R/wpa-fallback.log" || exit 17
ip link set wlan2 up

mark driver
# Every nmcli and wpa_cli call of the engine goes through a recorder: the real
# argv, output and exit code, kept for the stand-ins. Not wpa_cli's interactive
# mode (no command in its argv): the password is typed there, and wpa_cli echoes
# what it reads.
recorder() { # NAME: /tmp/NAME-rec, recording into $R/NAME/
	mkdir -p "$R/$1"
	cat >"/tmp/$1-rec" <<REC
#!/bin/sh
[ "$1" = wpa_cli ] && [ "\$#" -le 4 ] && exec wpa_cli "\$@"
d=$R/$1
n=\$(printf '%03d' "\$(ls "\$d" | grep -c '\.argv\$')")
printf '%s\n' "\$@" >"\$d/\$n.argv"
$1 "\$@" >"\$d/\$n.out" 2>"\$d/\$n.err"
rc=\$?
echo "\$rc" >"\$d/\$n.rc"
cat "\$d/\$n.out"
cat "\$d/\$n.err" >&2
exit "\$rc"
REC
	chmod 0755 "/tmp/$1-rec"
}
recorder nmcli
recorder wpa_cli
mkdir -p /tmp/target/etc/nixos
printf '{ ... }: { networking.networkmanager.enable = true; }\n' >/tmp/target/etc/nixos/configuration.nix
$py "$S/wifi-driver.py" "$IN" "$R" /tmp/target >"$R/driver.log" 2>&1
echo $? >"$R/driver.rc"

mark collect
# What nmcli says with no NetworkManager (the 25.05 ISO), for the stand-in too.
kill "$(pidof NetworkManager)"
for _ in $(seq 50); do pidof NetworkManager >/dev/null || break; sleep 0.2; done
/tmp/nmcli-rec -t -f RUNNING general >/dev/null 2>&1
/tmp/nmcli-rec -t --escape yes -f GENERAL.DEVICE,GENERAL.TYPE,GENERAL.STATE,IP4.ADDRESS device show >/dev/null 2>&1
mkdir -p "$R/target"
stat -c '%a %U %n' /tmp/target/etc/NetworkManager/system-connections \
	/tmp/target/etc/NetworkManager/system-connections/* >"$R/target-modes.txt" 2>&1
cp -r /tmp/target/etc "$R/target/" 2>/dev/null
ls -la /run/nixos-tui-installer >"$R/run-dir.txt" 2>&1
# The system the CLI installed (wifi-driver.py's last part), by its root's label
# if the installer left it unmounted: the keyfile the pipeline carried, /etc/nixos.
if ! mountpoint -q /mnt; then
	root=$(blkid -c /dev/null -t LABEL=nixos -o device /dev/disk/by-id/virtio-target0-part* | head -1)
	mount -o ro "$root" /mnt 2>"$R/remount.log"
fi
mkdir -p "$R/installed"
stat -c '%a %U %n' /mnt/etc/NetworkManager/system-connections \
	/mnt/etc/NetworkManager/system-connections/* >"$R/installed-modes.txt" 2>&1
cp -r /mnt/etc/NetworkManager /mnt/etc/nixos "$R/installed/" 2>>"$R/remount.log"
# Any plain copy of the PSK in the installed root but the keyfile (names only).
grep -rlaF -f "$IN/psk" /mnt --exclude-dir=system-connections >"$R/psk-hits-in-root" 2>/dev/null
umount /mnt 2>/dev/null
kill "$(cat /run/hostapd.pid)" "$(cat /run/dnsmasq.pid)" 2>/dev/null
mark done
