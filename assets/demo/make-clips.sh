#!/usr/bin/env bash
# Makes the demo's speech clips (committed, so the demo needs neither tool at run time).
# Origin: synthesised with Debian's espeak-ng 1.51 and resampled with sox 14.4 to 16 kHz mono PCM16.
#   apt-get install -y espeak-ng sox && bash assets/demo/make-clips.sh
set -euo pipefail
cd "$(dirname "$0")"
say() { # name voice text
  espeak-ng -v "$2" -s 165 -w "/tmp/earshot-$1.wav" "$3"
  sox "/tmp/earshot-$1.wav" -r 16000 -c 1 -b 16 "$1.wav" norm -3
  rm -f "/tmp/earshot-$1.wav"
}
say caller-1 en-us+f3 "Hi, I'm calling about my order. It hasn't arrived yet."
say agent-1 en-gb+m3 "Sorry to hear that. Can you give me the order number, please?"
say caller-2 en-us+f3 "Sure. It's four five seven, one two nine."
say agent-2 en-gb+m3 "Thank you. I can see it left our warehouse yesterday."
say caller-3 en-us+f3 "Great. When should I expect it?"
say agent-3 en-gb+m3 "It should be with you by Thursday afternoon."
say caller-4 en-us+f3 "Perfect, thanks for your help."
say agent-4 en-gb+m3 "You're welcome. Have a lovely day."
