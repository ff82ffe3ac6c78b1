;;; emacs.el --- drive threadline.el headless as a user would  -*- lexical-binding: t -*-

;; Loaded after the user's init (written by tests/editors/test_editors.py), which put the
;; package on `load-path' and required it.  Uses the package's commands and keys and reports
;; what its buffers show as JSON lines.  Environment: THREADLINE_TEST_OUT (the report file),
;; THREADLINE_TEST_SCENARIO ("use" or "missing"), THREADLINE_TEST_PROMPT,
;; THREADLINE_TEST_OPEN (a session id prefix to open).

;;; Code:

(require 'cl-lib)
(require 'threadline)

(defvar driver-out (getenv "THREADLINE_TEST_OUT"))

(defun driver-report (step value)
  "Write STEP and VALUE as one JSON line."
  (write-region (concat (json-serialize (list :editor "emacs" :step step :value value)
                                        :null-object :null :false-object :json-false)
                        "\n")
                nil driver-out 'append 'silent))

(defun driver-messages ()
  "The *Messages* buffer's text."
  (with-current-buffer (messages-buffer) (buffer-substring-no-properties (point-min) (point-max))))

(defun driver-fail (why)
  "Report WHY and exit 1."
  (driver-report "error" (format "%s\n%s" why (driver-messages)))
  (kill-emacs 1))

(defun driver-lines (buffer)
  "BUFFER's lines, hidden text included, as a vector."
  (with-current-buffer buffer
    (vconcat (split-string (buffer-substring-no-properties (point-min) (point-max)) "\n"))))

(defun driver-has-line (buffer regexp)
  "The first line of BUFFER that matches REGEXP, or nil."
  (cl-find-if (lambda (line) (string-match-p regexp line)) (driver-lines buffer)))

(defmacro driver-wait (what &rest condition)
  "Wait up to 30 s for CONDITION (its WHAT for the report), handling server output."
  (declare (indent 1))
  `(with-timeout (30 (driver-fail (concat "timed out waiting for " ,what)))
     (while (not (progn ,@condition))
       (accept-process-output nil 0.02))))

(defun driver-missing ()
  "Run two commands with a server command that does not exist."
  (let (errors)
    (dolist (command (list #'threadline-list (lambda () (threadline-start "hello"))))
      (condition-case err
          (progn (funcall command) (push :null errors))
        (user-error (push (error-message-string err) errors))))
    (driver-report "errors" (vconcat (nreverse errors)))
    (driver-report "messages" (driver-messages))
    (driver-report "servers" (cl-count-if (lambda (p) (equal (process-name p) "threadline")) (process-list)))))

(defun driver-use ()
  "List, open, start, follow, resume, activate, and a bad id."
  (let* ((prompt (getenv "THREADLINE_TEST_PROMPT"))
         (list-buffer (threadline-list))
         (snapshots nil)
         transcript started id short)
    (driver-wait "the session list"
      (with-current-buffer list-buffer (and (not threadline--list-loading) (> (buffer-size) 0))))
    (driver-report "list" (list :name (buffer-name list-buffer)
                                :rows (vconcat (cl-remove-if #'string-empty-p (driver-lines list-buffer)))))

    ;; A transcript, opened by a unique id prefix.
    (setq transcript (threadline-open (getenv "THREADLINE_TEST_OPEN")))
    (driver-wait "the transcript" (driver-has-line transcript "^## assistant"))
    (driver-report "transcript" (list :name (with-current-buffer transcript threadline--transcript-id)
                                      :lines (driver-lines transcript)
                                      :tool_lines_folded
                                      (vconcat
                                       (with-current-buffer transcript
                                         (goto-char (point-min))
                                         (cl-loop while (re-search-forward "^▸ tool" nil t)
                                                  collect (if (invisible-p (1+ (line-end-position))) t :json-false))))))

    ;; Start a workflow; record every state of the list as the package redraws it.
    (with-current-buffer list-buffer
      (add-hook 'threadline-list-refreshed-hook
                (lambda () (push (driver-lines (current-buffer)) snapshots)) nil t))
    (setq started (threadline-start prompt)
          id (with-current-buffer started threadline--transcript-id)
          short (substring id 0 8))
    (driver-wait "the new row to complete, and the reply in its transcript"
      (and (driver-has-line list-buffer (concat (regexp-quote short) ".*completed"))
           (driver-has-line started "^## assistant")
           (driver-has-line started " · completed · ")))
    (let (statuses)
      (dolist (snapshot (reverse snapshots))
        (seq-doseq (line snapshot)
          (when (string-match (concat (regexp-quote short) " +\\([a-z_]+\\)") line)
            (unless (equal (car statuses) (match-string 1 line))
              (push (match-string 1 line) statuses)))))
      (driver-report "start" (list :id id :statuses (vconcat (nreverse statuses))
                                   :list (driver-lines list-buffer) :transcript (driver-lines started))))

    ;; Resume it by its prefix with a hostile prompt.
    (threadline-resume short prompt)
    (driver-wait "the resumed turn's reply"
      (and (= 2 (cl-count-if (lambda (l) (string-prefix-p "## assistant" l)) (driver-lines started)))
           (driver-has-line started " · completed · ")))
    (driver-report "resume" (list :current (if (eq (current-buffer) started) t :json-false)
                                  :transcript (driver-lines started)))

    ;; `a' on its row makes it the active session.
    (switch-to-buffer list-buffer)
    (goto-char (point-min))
    (search-forward short)
    (execute-kbd-macro "a")
    (driver-wait "the active mark" (driver-has-line list-buffer (concat "^\\* " (regexp-quote short))))
    (driver-report "activated" (driver-lines list-buffer))

    ;; A denied tool: the session waits for input, and the user is told so.
    (let ((denied (substring (with-current-buffer (threadline-start "please [[tool:bash:touch marker.txt]]")
                               threadline--transcript-id)
                             0 8)))
      (driver-wait "the waiting row and message"
        (and (string-match-p "is waiting for input" (driver-messages))
             (driver-has-line list-buffer (concat (regexp-quote denied) " waiting_for_input"))))
      (driver-report "waiting" denied))

    ;; `x' on a running session's row cancels its turn.
    (let ((slow (substring (with-current-buffer (threadline-start "take your time [[slow:20]]")
                             threadline--transcript-id)
                           0 8)))
      (switch-to-buffer list-buffer)
      (goto-char (point-min))
      (search-forward slow)
      (execute-kbd-macro "x")
      (driver-wait "the cancelled row" (driver-has-line list-buffer (concat (regexp-quote slow) ".*cancelled")))
      (driver-report "cancelled" (driver-lines list-buffer)))

    ;; `/' filters by text, read in the minibuffer; an empty filter shows every session again.
    (let ((all (length (driver-lines list-buffer))))
      (switch-to-buffer list-buffer)
      (execute-kbd-macro (vconcat "/MARKER" [return]))
      (driver-wait "the filtered list"
        (< (length (driver-lines list-buffer)) all))
      (driver-report "filtered" (driver-lines list-buffer))
      (execute-kbd-macro (vconcat "/" [?\C-a ?\C-k] [return]))
      (driver-wait "the whole list again" (= (length (driver-lines list-buffer)) all))

      ;; `f' on a row forks that session into a new one, which opens.
      (goto-char (point-min))
      (search-forward short)
      (execute-kbd-macro (vconcat "fa fork of it" [return]))
      (let* ((fork-buffer (current-buffer))
             (fork (buffer-local-value 'threadline--transcript-id fork-buffer)))
        (driver-wait "the fork's transcript"
          (and fork (not (equal fork id)) (driver-has-line fork-buffer " · completed · ")
               (driver-has-line fork-buffer "to: a fork of it")))
        (driver-wait "the fork's row" (driver-has-line list-buffer (regexp-quote (substring fork 0 8))))
        (driver-report "fork" (list :id fork :transcript (driver-lines fork-buffer)
                                    :rows (- (length (driver-lines list-buffer)) all)))))

    ;; RET on a row opens that session's transcript.
    (switch-to-buffer list-buffer)
    (goto-char (point-min))
    (search-forward "11111111")
    (execute-kbd-macro [return])
    (driver-wait "the transcript from RET"
      (and (equal threadline--transcript-id "11111111-1111-4111-8111-111111111111")
           (driver-has-line (current-buffer) "^## assistant")))
    (driver-report "enter" (aref (driver-lines (current-buffer)) 0))

    ;; A malformed id is the server's one clear sentence, and opens nothing.
    (let ((before (length (buffer-list))))
      (condition-case err
          (threadline-open "../../../../../../../../../etc/passwd")
        (user-error (message "%s" (error-message-string err))))
      (driver-report "bad-id" (list :new_buffers (- (length (buffer-list)) before))))
    (driver-report "messages" (driver-messages))
    (driver-report "servers" (cl-count-if (lambda (p) (equal (process-name p) "threadline")) (process-list)))))

(defun driver-later ()
  "What the server does not send yet (`streaming', `session/removed'), through the dispatcher."
  (let* ((list-buffer (threadline-list))
         (id "11111111-1111-4111-8111-111111111111")
         transcript session)
    (driver-wait "the session list" (driver-has-line list-buffer "11111111"))
    (setq transcript (threadline-open "11111111"))
    (driver-wait "the transcript" (driver-has-line transcript "^## assistant"))
    (setq session (plist-get (jsonrpc-request threadline--connection :session/get (list :sessionId id)) :session))
    (plist-put session :status "running")
    (threadline--on-notification threadline--connection 'session/updated
                                 (list :session session :appended [] :appendedFrom nil
                                       :streaming (list :text "half a reply\nstill writing")))
    (let ((streaming (driver-lines transcript)))
      (plist-put session :status "completed")
      (threadline--on-notification threadline--connection 'session/updated
                                   (list :session session :appended [] :appendedFrom nil :streaming nil))
      (let ((after (driver-lines transcript)))
        (threadline--on-notification threadline--connection 'session/removed (list :sessionId id))
        (driver-report "later" (list :streaming streaming :after after
                                     :removed (aref (driver-lines transcript) 1)
                                     :list (driver-lines list-buffer)))))))

(condition-case err
    (pcase (getenv "THREADLINE_TEST_SCENARIO")
      ("missing" (driver-missing))
      ("later" (driver-later))
      (_ (driver-use)))
  (error (driver-fail (error-message-string err))))
(threadline-shutdown)
(kill-emacs 0)

;;; emacs.el ends here
