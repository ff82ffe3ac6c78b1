;;; threadline.el --- an Emacs client of `threadline serve', headless  -*- lexical-binding: t -*-

;; Uses Emacs's built-in jsonrpc.el (28+), as a user's config or a package would. Run by
;; tests/editors/test_editors.py:
;;
;;   emacs --batch -Q -l threadline.el
;;
;; Environment: THREADLINE_SERVER (JSON argv), THREADLINE_PROJECT (the project folder),
;; THREADLINE_OPTIONS (JSON initializationOptions), THREADLINE_OUT (a file for the JSON lines
;; this script reports), THREADLINE_PROMPT.  Exits 0 when the scenario ran, 1 otherwise.

(require 'cl-lib)
(require 'json)
(require 'jsonrpc)

(defvar threadline-out (getenv "THREADLINE_OUT"))
(defvar threadline-project (getenv "THREADLINE_PROJECT"))
(defvar threadline-notes nil "Notifications received, newest first: (METHOD . PARAMS).")
(defconst threadline-timeout 30)

(defun threadline-report (step value)
  (let ((json-encoding-pretty-print nil))
    (write-region (concat (json-encode (list :editor "emacs" :step step :value value)) "\n")
                  nil threadline-out 'append 'silent)))

(defun threadline-fail (why)
  (threadline-report "error" why)
  (kill-emacs 1))

(defun threadline-parse (text)
  (json-parse-string text :object-type 'plist :null-object nil :false-object :json-false))

(defvar threadline-connection
  (jsonrpc-process-connection
   :name "threadline"
   :process (make-process :name "threadline"
                          :command (append (threadline-parse (getenv "THREADLINE_SERVER")) nil)
                          :connection-type 'pipe
                          :coding 'utf-8-emacs-unix
                          :noquery t
                          :stderr (get-buffer-create "*threadline stderr*"))
   :notification-dispatcher (lambda (_conn method params)
                              (push (cons method params) threadline-notes))))

(defun threadline-request (method params)
  "Send METHOD with PARAMS and wait: (ok . RESULT) or (error . CODE-AND-MESSAGE)."
  (condition-case err
      (cons 'ok (jsonrpc-request threadline-connection method params :timeout threadline-timeout))
    (jsonrpc-error
     (cons 'error (list :code (alist-get 'jsonrpc-error-code (cdr err))
                        :message (alist-get 'jsonrpc-error-message (cdr err)))))))

(defun threadline-ok (method params)
  (let ((answer (threadline-request method params)))
    (unless (eq (car answer) 'ok)
      (threadline-fail (format "%s: %S" method (cdr answer))))
    (cdr answer)))

(defun threadline-await (method pred)
  "The params of the first METHOD notification for which PRED holds."
  (let (found)
    (with-timeout (threadline-timeout (threadline-fail (format "no %s" method)))
      (while (not (setq found (cl-find-if (lambda (note) (and (eq (car note) method) (funcall pred (cdr note))))
                                          (reverse threadline-notes))))
        (accept-process-output nil 0.02)))
    (cdr found)))

(defun threadline-session-id (params)
  (plist-get (plist-get params :session) :sessionId))

(defun threadline-scenario ()
  "List, start, follow to the end, read, and send a bad id."
  (threadline-ok :initialize
                 (list :processId (emacs-pid)
                       :rootUri (concat "file://" threadline-project)
                       :capabilities (make-hash-table)
                       :workspaceFolders (vector (list :uri (concat "file://" threadline-project) :name "project"))
                       :initializationOptions (threadline-parse (getenv "THREADLINE_OPTIONS"))))
  (jsonrpc-notify threadline-connection :initialized (make-hash-table))

  (threadline-report "list" (threadline-ok :session/list (list :cwd threadline-project)))

  (let* ((started (threadline-ok :workflow/start (list :cwd threadline-project :prompt (getenv "THREADLINE_PROMPT"))))
         (id (plist-get started :sessionId)))
    (threadline-report "start" started)
    (threadline-report "detected"
                       (threadline-await 'session/detected
                                         (lambda (p) (equal (threadline-session-id p) id))))
    (threadline-report "ended"
                       (threadline-await 'session/updated
                                         (lambda (p) (and (equal (threadline-session-id p) id)
                                                          (not (equal (plist-get (plist-get p :session) :status)
                                                                      "running"))))))
    (threadline-report "messages" (threadline-ok :session/messages (list :sessionId id :limit 50))))

  (let ((answer (threadline-request :session/get (list :sessionId "../../etc/passwd"))))
    (threadline-report "bad-id" (and (eq (car answer) 'error) (cdr answer)))))

(condition-case err
    (threadline-scenario)
  (error (threadline-fail (error-message-string err))))

(jsonrpc-shutdown threadline-connection)
(kill-emacs 0)

;;; threadline.el ends here
