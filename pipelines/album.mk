# pipelines/album.mk: recordings → album, as Make targets on real files under work/ARTIST/.
#
#   make album [ARTIST=name] [AUDIO=dir] [MODEL=samplernn] [PRESET=small] [TRAIN_MINUTES=20]
#              [CLIPS=32] [SECONDS=20] [SEED=1] [TEMP=0.95] [RATE=16000] [TRACK_MINUTES=4] [TITLES=file]
#   make album-quick        the same pipeline in a few minutes (the test suite runs it)
#   make reproduce ARTIST=name    rebuild an album from its record and compare with SHA256SUMS
#
# Each stage's program is a variable (WAVCHUNK, MULAW, QTRAIN, QSAMPLE, CURATE, ALBUMART,
# ALBUMPAGE) so that one program can be swapped for your own; rerunning after a change redoes
# only what depends on it. Stop after a stage with e.g. `make album-train`.

ARTIST        ?= asc-music
ifeq ($(ARTIST),asc-music)
AUDIO         ?= data/asc-music
endif
# samplernn (presets tiny, small, medium, dadabots) or wavenet (presets tiny, default)
MODEL         ?= samplernn
PRESET        ?= $(if $(filter wavenet,$(MODEL)),default,small)
# Minutes of training in all: a larger value continues the same run (so does a larger
# TRAIN_STEPS); when TRAIN_STEPS is set it replaces TRAIN_MINUTES (make reproduce sets it).
TRAIN_MINUTES ?= 20
TRAIN_STEPS   ?=
CLIPS         ?= 32
SECONDS       ?= 20
SEED          ?= 1
TEMP          ?= 0.95
RATE          ?= 16000
TRACK_MINUTES ?= 4
TITLES        ?=
# Extra options of each stage, e.g. CURATE_FLAGS='--min-seconds 5'. An option that one of the
# settings above gives (--seed, -r, -t, --track-minutes ...) is refused there: use the setting.
# Validation on 2% of the chunks every 50 steps: a few points on the curve without spending
# the training time on it; milestone checkpoints and clips every 500 steps, to listen to.
TRAIN_FLAGS   ?= --checkpoint-every 50 --split 96,2,2 --keep-every 500 --sample-every 500 --sample-count 2
SAMPLE_FLAGS  ?=
CURATE_FLAGS  ?=
WORK          ?= work/$(ARTIST)
ALBUM         ?= album/$(ARTIST)

WAVCHUNK ?= $(BINDIR)/wavchunk
MULAW    ?= $(BINDIR)/mulaw
QTRAIN   ?= $(BINDIR)/qtrain
QSAMPLE  ?= $(BINDIR)/qsample
CURATE   ?= $(BINDIR)/curate
ALBUMART ?= $(BINDIR)/albumart
ALBUMPAGE ?= $(BINDIR)/albumpage
STAGES   := WAVCHUNK MULAW QTRAIN QSAMPLE CURATE ALBUMART ALBUMPAGE
# a stage swapped for another program, as recorded: QTRAIN=my-trainer
SWAPPED   = $(foreach s,$(STAGES),$(if $(filter-out $(BINDIR)/$(shell echo $(s) | tr A-Z a-z),$($(s))),$(s)=$($(s))))

# a word for the shell, quoted
q = '$(subst ','\'',$(1))'
ALBUM_SH = sh pipelines/album.sh

# The options that the settings above give, per stage: the user's flags may not repeat them.
OWN_TRAIN  = --seed% -r% --steps% --minutes% -o% --resume% --model% --preset%
OWN_SAMPLE = --seed% -t% -n% -s% -o%
OWN_CURATE = --track-minutes% -o% -r%
WHICH_--seed% = SEED
WHICH_-r% = RATE
WHICH_-t% = TEMP
WHICH_-n% = CLIPS
WHICH_-s% = SECONDS
WHICH_--steps% = TRAIN_STEPS
WHICH_--minutes% = TRAIN_MINUTES
WHICH_--model% = MODEL
WHICH_--preset% = PRESET
WHICH_--track-minutes% = TRACK_MINUTES
# refused FLAGSVAR OWNPATTERNS: an error message, or nothing
refused = $(strip $(foreach p,$(2),$(foreach f,$(filter $(p),$($(1))),\
	$(1): $(f) is set by the pipeline$(if $(WHICH_$(p)), (use $(WHICH_$(p))=…)).)))

TRAIN_STOP  = $(if $(TRAIN_STEPS),--steps $(TRAIN_STEPS),--minutes $(TRAIN_MINUTES))
# The settings that make each stage's output what it is: written to WORK/.settings-STAGE
# (touched only when they change), so changing e.g. CLIPS reruns sampling, not training.
# Training's own record (WORK/run/album-run.txt) decides whether a run is continued.
KEY_chunks = AUDIO=$(AUDIO) RATE=$(RATE)
KEY_train  = MODEL=$(MODEL) PRESET=$(PRESET) SEED=$(SEED) RATE=$(RATE) $(TRAIN_FLAGS)
KEY_stop   = $(TRAIN_STOP)
KEY_sample = CLIPS=$(CLIPS) SECONDS=$(SECONDS) TEMP=$(TEMP) SEED=$(SEED) $(SAMPLE_FLAGS)
KEY_curate = TRACK_MINUTES=$(TRACK_MINUTES) RATE=$(RATE) $(CURATE_FLAGS)
KEY_album  = TITLES=$(TITLES) SEED=$(SEED) ARTIST=$(ARTIST) $(SWAPPED)

# The stages' commands, as run and as recorded in the album ("how this was made"). Training
# is recorded by the number of steps it took, so that the record reruns it exactly.
CMD_CODES  = $(MULAW) -r $(RATE) -o $(WORK)/codes.npy $(WORK)/chunks.npy
CMD_TRAIN  = $(QTRAIN) --model $(MODEL) --preset $(PRESET) $(TRAIN_FLAGS) --seed $(SEED) -r $(RATE) -o $(WORK)/run $(WORK)/codes.npy
CMD_SAMPLE = $(QSAMPLE) $(SAMPLE_FLAGS) -n $(CLIPS) -s $(SECONDS) -t $(TEMP) --seed $(SEED) -o $(WORK)/clips/ $(WORK)/run/best.safetensors
CMD_CURATE = $(CURATE) $(CURATE_FLAGS) -r $(RATE) --track-minutes $(TRACK_MINUTES) -o $(WORK)/tracks $(WORK)/clips/*.wav
CMD_TITLES = $(ALBUMPAGE) titles --seed $$($(ALBUM_SH) title-seed $(SEED) "$(ARTIST)" $(WORK)/tracks/*.flac) -n $$(tail -n +2 $(WORK)/tracks/tracklist.tsv | cut -f1 | sort -un | wc -l) $(if $(TITLES),--titles $(TITLES)) > $(WORK)/titles.txt
CMD_COVER  = $(ALBUMART) --seed $(SEED) --artist "$(ARTIST)" --title "$$(head -1 $(WORK)/titles.txt)" --audio $(WORK)/tracks/*.flac -o $(WORK)/cover.png
CMD_BUILD  = $(ALBUMPAGE) build --artist "$(ARTIST)" --titles $(WORK)/titles.txt --tracks $(WORK)/tracks --run $(WORK)/run --cover $(WORK)/cover.png --commands $(WORK)/commands.txt --settings $(WORK)/settings.txt -o $(ALBUM)

.PHONY: album album-build album-quick album-chunks album-train album-sample album-curate reproduce FORCE
# The default artist's recordings are fetched first (make data), then the pipeline runs.
album:
	@$(if $(filter asc-music%,$(ARTIST)),$(MAKE) --no-print-directory data &&) \
	    $(MAKE) --no-print-directory album-build
album-build: $(ALBUM)/SHA256SUMS
	@echo "album: $(ALBUM)/index.html" >&2

album-chunks: $(WORK)/codes.npy
album-train: $(WORK)/run/.done
album-sample: $(WORK)/clips/.done
album-curate: $(WORK)/tracks/tracklist.tsv

# A few minutes end to end: tiny model, short training, a handful of short clips, into
# album/ARTIST/ as `make album` (its work in WORK/ARTIST-quick). A model trained this little
# makes mostly noise, so curate is told to keep noise: this album tests the pipeline, not the
# music. TRAIN_FLAGS and CURATE_FLAGS given by the user come after the quick ones, and win.
QUICK_TRAIN_FLAGS  = --checkpoint-every 20 --split 94,3,3 --sample-every 20 --sample-count 2 --sample-seconds 2
QUICK_CURATE_FLAGS = --noise-fraction 1 --min-seconds 2
user_flags = $(if $(filter command line environment environment override,$(origin $(1))),$($(1)))
album-quick:
	@$(MAKE) --no-print-directory album ARTIST=$(call q,$(ARTIST)) AUDIO=$(call q,$(AUDIO)) \
	    WORK=$(call q,$(if $(filter command line,$(origin WORK)),$(WORK),work/$(ARTIST)-quick)) PRESET=tiny \
	    TRAIN_STEPS=$(or $(TRAIN_STEPS),40) CLIPS=$(if $(filter 32,$(CLIPS)),8,$(CLIPS)) \
	    SECONDS=$(if $(filter 20,$(SECONDS)),8,$(SECONDS)) TRACK_MINUTES=$(if $(filter 4,$(TRACK_MINUTES)),0.25,$(TRACK_MINUTES)) SEED=$(SEED) \
	    TRAIN_FLAGS=$(call q,$(QUICK_TRAIN_FLAGS) $(call user_flags,TRAIN_FLAGS)) \
	    CURATE_FLAGS=$(call q,$(QUICK_CURATE_FLAGS) $(call user_flags,CURATE_FLAGS))

# A refused flag stops make before any stage runs.
ifneq ($(filter album album-build album-quick album-chunks album-train album-sample album-curate,$(MAKECMDGOALS)),)
REFUSED := $(strip $(call refused,TRAIN_FLAGS,$(OWN_TRAIN)) $(call refused,SAMPLE_FLAGS,$(OWN_SAMPLE)) \
	     $(call refused,CURATE_FLAGS,$(OWN_CURATE)))
ifneq ($(REFUSED),)
$(error album: $(REFUSED))
endif
endif

$(WORK)/.settings-%: FORCE
	@$(if $(filter chunks,$*),test -n "$(AUDIO)" || { echo "album: ARTIST=$(ARTIST) needs AUDIO=folder of recordings" >&2; exit 2; })
	@$(ALBUM_SH) stamp $@ $(call q,$(KEY_$*)) $(if $(filter chunks,$*),$(call q,$(AUDIO)))

$(WORK)/chunks.npy: $(WAVCHUNK) $(WORK)/.settings-chunks | $(DEPSTAMP)
	@$(ALBUM_SH) chunks $@ $(RATE) $(call q,$(AUDIO)) $(WAVCHUNK)

$(WORK)/codes.npy: $(WORK)/chunks.npy $(MULAW)
	$(CMD_CODES)

# Continues the run in WORK/run when it was made with these settings (an interrupted run, or a
# longer one asked for), else keeps it aside as WORK/run.N and starts anew (pipelines/album.sh).
$(WORK)/run/.done: $(WORK)/codes.npy $(QTRAIN) $(WORK)/.settings-train $(WORK)/.settings-stop
	@$(ALBUM_SH) train $(WORK) $(call q,$(KEY_train)) '$(TRAIN_STEPS)' '$(TRAIN_MINUTES)' $(CMD_TRAIN)

$(WORK)/clips/.done: $(WORK)/run/.done $(QSAMPLE) $(WORK)/.settings-sample
	rm -rf $(WORK)/clips
	$(CMD_SAMPLE)
	@touch $@

$(WORK)/tracks/tracklist.tsv: $(WORK)/clips/.done $(CURATE) $(WORK)/.settings-curate
	rm -rf $(WORK)/tracks
	@echo '$(CMD_CURATE)'; $(CMD_CURATE) || { rc=$$?; \
	    echo "album: curate kept no track from $(WORK)/clips (its reasons above; each clip's scores in $(WORK)/tracks/curation.json). A model trained this little makes noise:" \
	         "train longer (TRAIN_MINUTES=, TRAIN_STEPS=; the run continues), or keep what it makes with" \
	         "CURATE_FLAGS='--noise-fraction 1' (see docs/curate.md for the other rules)." >&2; exit $$rc; }

# Titles, cover and the album itself. The record of settings and commands is written first;
# albumpage assembles the album beside its place and renames it in when whole.
$(ALBUM)/SHA256SUMS: $(WORK)/tracks/tracklist.tsv $(ALBUMART) $(ALBUMPAGE) $(TITLES) $(WORK)/.settings-album
	$(CMD_TITLES)
	$(CMD_COVER)
	@steps=$$($(ALBUM_SH) step $(WORK)/run/last.safetensors); \
	printf '%s\n' "ARTIST=$(ARTIST)" "AUDIO=$(AUDIO)" "WORK=$(WORK)" "MODEL=$(MODEL)" "PRESET=$(PRESET)" "TRAIN_STEPS=$$steps" \
	    "CLIPS=$(CLIPS)" "SECONDS=$(SECONDS)" "SEED=$(SEED)" "TEMP=$(TEMP)" "RATE=$(RATE)" \
	    "TRACK_MINUTES=$(TRACK_MINUTES)" "TITLES=$(TITLES)" "TRAIN_FLAGS=$(TRAIN_FLAGS)" \
	    "SAMPLE_FLAGS=$(SAMPLE_FLAGS)" "CURATE_FLAGS=$(CURATE_FLAGS)" $(foreach s,$(SWAPPED),$(call q,$(s))) > $(WORK)/settings.txt; \
	{ printf 'make album'; while IFS= read -r kv; do printf " %s='%s'" "$${kv%%=*}" "$$(printf '%s' "$${kv#*=}" | sed "s/'/'\\\\''/g")"; done < $(WORK)/settings.txt; echo; \
	  printf '%s\n' 'which runs:'; cat $(WORK)/chunks.npy.cmd; \
	  printf '%s\n' '$(CMD_CODES)' '$(CMD_TRAIN) --steps @STEPS@' '$(CMD_SAMPLE)' '$(CMD_CURATE)' \
	    '$(CMD_TITLES)' '$(CMD_COVER)' '$(CMD_BUILD)'; } \
	    | sed "s/@STEPS@/$$steps/" > $(WORK)/commands.txt
	$(CMD_BUILD)

# Rebuild the album from what it records (settings, with the exact number of training steps)
# in a scratch copy of this tree, then compare every file listed in SHA256SUMS.
reproduce:
	@sh pipelines/reproduce.sh '$(ALBUM)'
