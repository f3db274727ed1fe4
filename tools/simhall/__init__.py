"""The hall simulator: pads and pause signs running the real firmware logic, staff keypads and
badge readers, a queue system, and the citizens and staff (honest or not) who use them,
against a running edge agent on a shared, faster-than-real clock.

    tools/sim run                       a 12-counter day: devices, mosquitto, agent, center
    tools/sim run --speed 60 --links usb,mqtt --counters 12 --work var/sim
    tools/sim run --no-agent            print the agent's command line and wait for it
    tools/sim plan --days 5 > week.jsonl   the people's plan only, as a timeline
    tools/sim check --days 5            the plan through the rules: injected -> raised

(`tools/sim` bootstraps, then runs `python -m tools.simhall`.) Modules, each one thing:

    people.py      citizens, staff and their cheats -> a plan (timeline acts)
    check.py       a plan, or the agent's month report, judged against what was injected
    pins.py        a pad's keys and display; devices.py  the firmware's pad on them
    serial_port.py USB ptys and RS-485 buses; mqtt_port.py  the firmware's MQTT client
    input_device.py, keypad.py   evdev keypads and badge readers (the agent's keymap)
    queue_system.py  the queue system's hook reports; acts.py  the plan done on devices
    hall.py        the devices of a hall; agent_config.py  the agent's hall file
    clock.py, runner.py, progress.py   simulated time, the loop, the clock bar
    services.py    mosquitto, redis-server, the center and the agent as child processes
    center.py      the center's files, its API and its stored records
    simulation.py  one run's parts; outcome.py  the run start to end and what it found
    tally.py       every press from pad to center (lost, duplicated)
    faults.py      scheduled faults and the injector; fault_run.py  the long fault run
"""
