# Finds Vitalgate's system dependencies (Debian 12 packages) and fails with a
# message that names the missing package, so a newcomer knows what to install.

find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: install the Debian package 'pkg-config'")
endif()

# vg_require_pkg(<prefix> <pkg-config module> <Debian package>)
function(vg_require_pkg prefix module debpkg)
  pkg_check_modules(${prefix} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${prefix}_FOUND)
    message(FATAL_ERROR
      "Missing dependency '${module}': install the Debian package '${debpkg}' "
      "(apt-get install -y ${debpkg})")
  endif()
  message(STATUS "Found ${module} ${${prefix}_VERSION} (${debpkg})")
endfunction()

vg_require_pkg(PQ       libpq    libpq-dev)
vg_require_pkg(MSGPACK  msgpack  libmsgpack-dev)
vg_require_pkg(CURL     libcurl  libcurl4-openssl-dev)
vg_require_pkg(OPENSSL  openssl  libssl-dev)

# The broker plugin headers come from mosquitto-dev, which ships no
# pkg-config file. The plugin must not link libmosquitto: the broker binary
# itself exports the mosquitto_* functions a plugin calls.
find_path(MOSQUITTO_PLUGIN_INCLUDE_DIR mosquitto_plugin.h)
find_path(MOSQUITTO_CLIENT_INCLUDE_DIR mosquitto.h)
if(NOT MOSQUITTO_CLIENT_INCLUDE_DIR)
  message(FATAL_ERROR
    "Missing dependency 'mosquitto.h' (MOSQ_ERR_*, MOSQ_LOG_* constants): install the "
    "Debian package 'libmosquitto-dev' (apt-get install -y libmosquitto-dev)")
endif()
find_path(MOSQUITTO_BROKER_INCLUDE_DIR mosquitto_broker.h)
if(NOT MOSQUITTO_PLUGIN_INCLUDE_DIR OR NOT MOSQUITTO_BROKER_INCLUDE_DIR)
  message(FATAL_ERROR
    "Missing dependency 'mosquitto_plugin.h': install the Debian package "
    "'mosquitto-dev' (apt-get install -y mosquitto-dev)")
endif()
file(STRINGS "${MOSQUITTO_PLUGIN_INCLUDE_DIR}/mosquitto_plugin.h" _vg_plugin_ver
     REGEX "^#define MOSQ_PLUGIN_VERSION")
file(STRINGS "${MOSQUITTO_BROKER_INCLUDE_DIR}/mosquitto_broker.h" _vg_evt_tick
     REGEX "MOSQ_EVT_TICK")
if(NOT _vg_evt_tick)
  message(FATAL_ERROR
    "mosquitto_broker.h has no MOSQ_EVT_TICK: Vitalgate needs Mosquitto 2.0 "
    "(plugin API v5) from the Debian package 'mosquitto-dev'")
endif()
message(STATUS "Found mosquitto plugin headers in ${MOSQUITTO_PLUGIN_INCLUDE_DIR} (mosquitto-dev)")

find_package(Threads REQUIRED)

# Node.js runs the end-to-end tests, the webhook receiver and the schema
# code generator.
find_program(NODE_EXECUTABLE node)
if(NOT NODE_EXECUTABLE)
  message(FATAL_ERROR "Missing dependency 'node': install the Debian package 'nodejs' (Node.js 20)")
endif()
